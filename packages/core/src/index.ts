// The public surface of @mig/core: what a service or a user of the migrator needs, and the ports an adapter
// implements. Helpers for adapter authors are in `@mig/core/adapter`, contract suites in `@mig/core/testing`.
export { type BackoffOptions, type Clock, systemClock } from './clock.js';
export {
  DEFAULT_CHECK_TIMEOUT_MS,
  DEFAULT_CONNECT_ATTEMPTS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_LOCK_STRATEGY,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_MIGRATIONS_DIR,
  DEFAULT_MIN_MIGRATION_TIME_MS,
  DEFAULT_PENDING_POLICY,
  DEFAULT_RETRY_BACKOFF,
  DEFAULT_SCHEMA,
  DEFAULT_STATEMENT_LOCK_WAIT_MS,
  DEFAULT_STATUS_TTL_MS,
  DEFAULT_TABLE,
  FAILURE_POLICIES,
  type FailurePolicy,
  LOCK_STRATEGIES,
  type LockStrategy,
  PENDING_POLICIES,
  type PendingPolicy,
} from './defaults.js';
export {
  AbortedError,
  ConnectionError,
  describeHolder,
  describeProblem,
  ForeignHistoryError,
  HistoryMismatchError,
  InvalidOptionError,
  InvalidTargetError,
  isMigError,
  type LockHolder,
  LockLostError,
  type LockLostReason,
  LockTimeoutError,
  MigError,
  MigErrorCode,
  type MigErrorOptions,
  MigrationConflictError,
  type MigrationDirection,
  MigrationDriftError,
  MigrationFailedError,
  type MigrationProblem,
  MigrationSourceError,
  PendingMigrationsError,
  redactCredentials,
} from './errors.js';
export type { StoreHead } from './head.js';
export type { AdoptedHistory, RepairChange } from './internal/history-plan.js';
export type {
  MigrationResult,
  MigrationResultStatus,
  MigrationRunResult,
  RunProgress,
} from './internal/run-record.js';
export type { Migration, MigrationModule, MigrationSource } from './migration.js';
export {
  createMigrator,
  type HistoryChange,
  type HistoryOptions,
  type HistoryResult,
  type Migrator,
  type MigratorOptions,
  type RunOptions,
  statusCacheKey,
} from './migrator.js';
export {
  type AppliedMigration,
  type ApplyOptions,
  type CacheLookup,
  type ForeignHistorySummary,
  type LeaseGrant,
  type LeasePrimitive,
  type Leftover,
  type LockAcquireOptions,
  type LockChange,
  type LockLease,
  type LockSession,
  type LockWait,
  type Logger,
  type MigrationLock,
  type MigrationStore,
  type RecordOptions,
  type RecordOrigin,
  type RecordRewrite,
  type SessionLockPrimitive,
  type StatusCache,
  type StoreTarget,
  silentLogger,
  type TryLockResult,
} from './ports.js';
export {
  createDatabaseService,
  type DatabaseService,
  type DatabaseServiceOptions,
  type EnsureOptions,
  IDLE_SERVICE_STATE,
  type MigrationState,
  type ServicePhase,
  type ServiceState,
} from './service.js';
export type { MigrationInspection, MigrationStatus, StatusState } from './status.js';
export { Attr, MetricName, SpanName, type TelemetryOptions } from './telemetry.js';
export { VERSION } from './version.js';
