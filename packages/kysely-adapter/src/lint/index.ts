import type { Migration } from '@mig/core';
import { urlScheme } from '@mig/core/adapter';
import type { MigrationDb } from '../db.js';
import { driverOf, ENGINES, type Engine, engineForScheme } from '../engines/registry.js';
import { lintMigration, type MigrationLint } from './lint.js';

export { acceptedRules, formatFinding, type MigrationLint, unaccepted } from './lint.js';
export type { LintFinding } from './types.js';

/** Lints migrations on one engine, with no database: the engine's rules, its parser loaded on first use. */
export interface MigrationLinter {
  /** The engine whose rules it applies. */
  readonly engine: Engine;
  lint(migration: Migration<MigrationDb>): Promise<MigrationLint>;
}

/** The engines that have lint rules. */
export const LINTED_ENGINES: readonly Engine[] = Object.freeze(ENGINES.filter((e) => driverOf(e).lint !== undefined));

/**
 * The linter of an engine, or of the engine a database URL names (PostgreSQL when none is given); undefined
 * for an engine that has no lint rules (see {@link LINTED_ENGINES}).
 *
 * @example
 * const linter = createMigrationLinter({ url: process.env.DATABASE_URL });
 * const { findings } = await linter!.lint(migration);
 */
export function createMigrationLinter(
  options: { readonly engine?: Engine | undefined; readonly url?: string | undefined } = {},
): MigrationLinter | undefined {
  const scheme = options.url === undefined ? undefined : urlScheme(options.url);
  const engine = options.engine ?? (scheme === undefined ? undefined : engineForScheme(scheme)) ?? 'postgres';
  const rules = driverOf(engine).lint;
  if (rules === undefined) return undefined;
  let compiler: MigrationDb | undefined;
  return {
    engine,
    lint: (migration) => {
      compiler ??= rules.compiler();
      return lintMigration(migration, { lint: rules.rules, compiler });
    },
  };
}
