// The public surface of @mig/core: what a service, or a user of the migrator, needs. The factories with their
// options and results; status and service state; every error and its code; the policies and defaults a user
// sets; the ports a user composes (a store, a lock, a source, a cache, a logger); telemetry names.
// For authors of stores, locks, caches and sources: `@mig/core/adapter` (their ports' details and helpers).
// For testing an implementation of a port: `@mig/core/testing` (the contract suites).
export {
  DEFAULT_FAILURE_POLICY,
  DEFAULT_LINT_MODE,
  DEFAULT_LOCK_STRATEGY,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_MIGRATION_TIMEOUT_MS,
  DEFAULT_PENDING_POLICY,
  DEFAULT_STATUS_TTL_MS,
  DEFAULT_TENANT_CONCURRENCY,
  DEFAULT_TRANSACTION_MODE,
  FAILURE_POLICIES,
  type FailurePolicy,
  LINT_MODES,
  type LintMode,
  LOCK_STRATEGIES,
  type LockStrategy,
  PENDING_POLICIES,
  type PendingPolicy,
  TRANSACTION_MODES,
  type TransactionMode,
} from './defaults.js';
export {
  AbortedError,
  ConnectionError,
  ForeignHistoryError,
  HistoryMismatchError,
  InvalidOptionError,
  InvalidTargetError,
  isMigError,
  LockLostError,
  LockTimeoutError,
  MigError,
  MigErrorCode,
  MigrationConflictError,
  MigrationDriftError,
  MigrationFailedError,
  MigrationInterruptedError,
  type MigrationProblem,
  MigrationSourceError,
  MigrationTimeoutError,
  PendingMigrationsError,
} from './errors.js';
export type { Migration, MigrationSource } from './migration.js';
export type {
  AdoptedHistory,
  HistoryChange,
  HistoryOptions,
  HistoryResult,
  MigrationResult,
  MigrationRunResult,
  Migrator,
  MigratorOptions,
  RunOptions,
  RunProgress,
} from './migrator/types.js';
export { createMigrator } from './migrator.js';
export type { AppliedMigration, Logger, MigrationLock, MigrationStore, StatusCache } from './ports.js';
export type { MigrationState, ServicePhase, ServiceState } from './service/state.js';
export {
  createLimiter,
  type Limiter,
  namespaceProblem,
  TenantServices,
  type TenantServicesOptions,
  tenantNamespace,
} from './service/tenants.js';
export type { DatabaseService, DatabaseServiceOptions, EnsureOptions, RunStops } from './service/types.js';
export { createDatabaseService } from './service.js';
export type { MigrationInspection, MigrationStatus, StatusState } from './status.js';
export {
  DEFAULT_DDL_LOCK_TIMEOUT_MS,
  describeBlockers,
  type TableLockBlocker,
  type TableLockWait,
} from './table-lock.js';
export { Attr, EventName, MetricName, SpanName } from './telemetry.js';
