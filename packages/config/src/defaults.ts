import type { MigConfig } from './types.js';

/**
 * The environment variables mig reads. An empty (or blank) variable counts as unset.
 *
 * @example
 * ```ts
 * process.env[ENV.AUTO_MIGRATE] = 'false';
 * ```
 */
export const ENV = {
  DATABASE_URL: 'DATABASE_URL',
  AUTO_MIGRATE: 'AUTO_MIGRATE',
  MIGRATION_LOCK_TIMEOUT: 'MIGRATION_LOCK_TIMEOUT',
  MIGRATION_DRY_RUN: 'MIGRATION_DRY_RUN',
  MIGRATION_CACHE_TTL: 'MIGRATION_CACHE_TTL',
  MIGRATION_LOCK_STRATEGY: 'MIGRATION_LOCK_STRATEGY',
  MIGRATIONS_DIR: 'MIGRATIONS_DIR',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/**
 * The value of every key that nothing set. `autoMigrate` is not here: its default depends on NODE_ENV
 * (true for development, test or unset; false for anything else). `migrationsDir` resolves against `cwd`.
 */
export const DEFAULTS = Object.freeze({
  databaseUrl: undefined,
  lockTimeoutMs: 30_000,
  dryRun: false,
  cacheTtlMs: 5 * 60_000,
  lockStrategy: 'advisory',
  migrationsDir: './migrations',
  onPending: 'warn',
  onFailure: 'throw',
  leaseTtlMs: 30_000,
  schema: 'public',
  table: 'mig_migrations',
} as const satisfies Omit<MigConfig, 'autoMigrate'>);
