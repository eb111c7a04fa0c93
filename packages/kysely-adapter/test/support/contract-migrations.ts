import type { Migration } from '@mig/core';
import { computeChecksum } from '@mig/core/adapter';
import type { BuildMigration, MigrationSpec } from '@mig/core/testing';
import { sql } from 'kysely';
import type { MigrationDb } from '../../src/index.js';
import type { EngineDatabase } from './engines.js';

/**
 * How the contract suites' migrations (see `MigrationSpec` of `@mig/core/testing`) leave their effect on an
 * engine, and how the fixture finds it again.
 */
export interface ContractMigrations {
  /** Makes what the migrations need in a fresh database (nothing, or the table their marker rows go in). */
  prepare(database: EngineDatabase): Promise<void>;
  readonly migration: BuildMigration<MigrationDb>;
  /** The contract migrations whose effect is visible now, in any order. */
  effects(database: EngineDatabase): Promise<string[]>;
}

/** One contract migration whose `up` and `down` are the given statements; its checksum differs per spec. */
function contractMigration(
  { name, transactional, fails }: MigrationSpec,
  up: (db: MigrationDb) => Promise<unknown>,
  down: (db: MigrationDb) => Promise<unknown>,
): Migration<MigrationDb> {
  return {
    name,
    checksum: computeChecksum(`${name}\ntransactional=${transactional}\nfails=${fails}`),
    origin: 'contract',
    load: async () => ({
      transactional,
      async up(db) {
        await up(db);
        if (fails) throw new Error(`${name} fails on purpose`);
      },
      async down(db) {
        await down(db);
      },
    }),
  };
}

const CONTRACT_NAME = /^c\d{3}_/;

/** Where DDL is transactional: `up` creates a table named after the migration, `down` drops it. */
export const TABLE_PER_MIGRATION: ContractMigrations = {
  prepare: async () => {},
  migration: (spec) =>
    contractMigration(
      spec,
      (db) => sql`create table ${sql.id(spec.name)} (id int)`.execute(db),
      (db) => sql`drop table ${sql.id(spec.name)}`.execute(db),
    ),
  effects: async (database) => (await database.tables()).filter((name) => CONTRACT_NAME.test(name)),
};

/**
 * Where DDL is not transactional (MySQL commits it by itself): `up` writes a marker row named after the
 * migration into the `effects` table that `prepare` makes, `down` deletes it. Data changes are
 * transactional, so a failing migration's marker is rolled back with it.
 */
export const ROW_PER_MIGRATION: ContractMigrations = {
  async prepare(database) {
    await sql`create table effects (name varchar(64) not null primary key)`.execute(database.db);
  },
  migration: (spec) =>
    contractMigration(
      spec,
      (db) => sql`insert into effects (name) values (${spec.name})`.execute(db),
      (db) => sql`delete from effects where name = ${spec.name}`.execute(db),
    ),
  async effects(database) {
    const { rows } = await sql<{ name: string }>`select name from effects`.execute(database.db);
    return rows.map((r) => r.name);
  },
};
