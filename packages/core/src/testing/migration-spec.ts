import type { Migration } from '../migration.js';

/** Every name the suites give a contract migration matches this (see {@link MigrationSpec.name}). */
export const CONTRACT_MIGRATION_NAME = /^c\d{3}_[a-z_]+$/;

/**
 * A migration the contract suites ask the harness to build for its engine. Its `up` leaves an *effect*
 * named after the migration (a marker table, or a marker row on an engine whose DDL is not transactional),
 * and its `down` removes that effect. The suites look for effects through the fixture's `effects()`.
 */
export interface MigrationSpec {
  /**
   * Matches {@link CONTRACT_MIGRATION_NAME}: `c`, three digits, `_`, then lowercase letters and underscores
   * (`c001_first`, `c002_applied_first`). Usable as a table name on every engine, and easy to tell apart from
   * the store's own tables. The migration's `name` must be exactly this.
   */
  readonly name: string;
  /** False: the module is marked non-transactional (asked for only when the store supports it). */
  readonly transactional: boolean;
  /** True: `up` leaves its effect, then throws. */
  readonly fails: boolean;
}

/** Builds a migration for the engine under test (see {@link MigrationSpec}). */
export type BuildMigration<Db> = (spec: MigrationSpec) => Migration<Db>;

/**
 * Builds a contract migration through the harness, after checking its name against
 * {@link CONTRACT_MIGRATION_NAME}: the suites keep the promise their documentation makes to harnesses.
 */
export function buildContractMigration<Db>(build: BuildMigration<Db>, spec: MigrationSpec): Migration<Db> {
  if (!CONTRACT_MIGRATION_NAME.test(spec.name)) {
    throw new Error(
      `The contract migration name "${spec.name}" does not match ${CONTRACT_MIGRATION_NAME}: fix the suite`,
    );
  }
  return build(spec);
}

/** The same migration with another checksum: what a store sees after someone edited an applied migration. */
export function withChecksum<Db>(migration: Migration<Db>, checksum: string): Migration<Db> {
  return {
    name: migration.name,
    checksum,
    origin: migration.origin,
    sql: migration.sql,
    load: () => migration.load(),
  };
}

/** The same migration without a `down`. */
export function withoutDown<Db>(migration: Migration<Db>): Migration<Db> {
  return {
    name: migration.name,
    checksum: migration.checksum,
    origin: migration.origin,
    sql: migration.sql,
    load: async () => {
      const module = await migration.load();
      return { transactional: module.transactional, up: (db: Db) => module.up(db) };
    },
  };
}

/** The effects a fixture reports, sorted, so two lists compare regardless of order. */
export async function sortedEffects(effects: () => Promise<readonly string[]>): Promise<string[]> {
  return [...(await effects())].sort();
}
