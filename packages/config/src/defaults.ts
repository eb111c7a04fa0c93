import {
  DEFAULT_DDL_LOCK_TIMEOUT_MS,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_LINT_MODE,
  DEFAULT_LOCK_STRATEGY,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_MIGRATION_TIMEOUT_MS,
  DEFAULT_PENDING_POLICY,
  DEFAULT_STATUS_TTL_MS,
  DEFAULT_TENANT_CONCURRENCY,
  DEFAULT_TRANSACTION_MODE,
} from '@mig/core';
import { DEFAULT_LEASE_TTL_MS, DEFAULT_MIGRATIONS_DIR, DEFAULT_SCHEMA, DEFAULT_TABLE } from '@mig/core/adapter';
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
  DATABASE_AUTH_TOKEN: 'DATABASE_AUTH_TOKEN',
  AUTO_MIGRATE: 'AUTO_MIGRATE',
  MIGRATION_LOCK_TIMEOUT: 'MIGRATION_LOCK_TIMEOUT',
  MIGRATION_DRY_RUN: 'MIGRATION_DRY_RUN',
  MIGRATION_CACHE_TTL: 'MIGRATION_CACHE_TTL',
  MIGRATION_LOCK_STRATEGY: 'MIGRATION_LOCK_STRATEGY',
  MIGRATIONS_DIR: 'MIGRATIONS_DIR',
  MIGRATION_TIMEOUT: 'MIGRATION_TIMEOUT',
  MIGRATION_DDL_LOCK_TIMEOUT: 'MIGRATION_DDL_LOCK_TIMEOUT',
  MIGRATION_STATEMENT_TIMEOUT: 'MIGRATION_STATEMENT_TIMEOUT',
  MIGRATION_TENANTS: 'MIGRATION_TENANTS',
  MIGRATION_TENANT_CONCURRENCY: 'MIGRATION_TENANT_CONCURRENCY',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/**
 * The value of every key that nothing set, each one core's default (`@mig/core`), so the configuration and
 * the libraries never disagree. `autoMigrate` is not here: its default depends on NODE_ENV (true for
 * development, test or unset; false for anything else). `migrationsDir` resolves against `cwd`.
 */
export const DEFAULTS = Object.freeze({
  databaseUrl: undefined,
  databaseAuthToken: undefined,
  lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS,
  dryRun: false,
  cacheTtlMs: DEFAULT_STATUS_TTL_MS,
  lockStrategy: DEFAULT_LOCK_STRATEGY,
  migrationsDir: DEFAULT_MIGRATIONS_DIR,
  onPending: DEFAULT_PENDING_POLICY,
  onFailure: DEFAULT_FAILURE_POLICY,
  leaseTtlMs: DEFAULT_LEASE_TTL_MS,
  migrationTimeoutMs: DEFAULT_MIGRATION_TIMEOUT_MS,
  ddlLockTimeoutMs: DEFAULT_DDL_LOCK_TIMEOUT_MS,
  lint: DEFAULT_LINT_MODE,
  statementTimeoutMs: undefined,
  schema: DEFAULT_SCHEMA,
  table: DEFAULT_TABLE,
  transaction: DEFAULT_TRANSACTION_MODE,
  tenants: undefined,
  tenantConcurrency: DEFAULT_TENANT_CONCURRENCY,
  createTenantSchemas: true,
} as const satisfies Omit<MigConfig, 'autoMigrate'>);
