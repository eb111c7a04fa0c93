// `@mig/core/adapter`: for authors of stores, locks, caches and migration sources, and of the edges that
// compose them (a CLI, a one-call service, a hand-wired status cache). The ports a user composes (`MigrationStore`, `MigrationLock`,
// `MigrationSource`, `StatusCache`, `Logger`) are in the main entry; here are the types their members take
// and return, the lock primitives `@mig/lock` builds its algorithms on, the inspector port, the defaults an
// adapter applies, and helpers: digests and checksums, lost-lock errors worded once, spans, backoff, URLs.
// Not needed to use mig.
export { type BackoffOptions, backoffDelay, type Clock, DEFAULT_BACKOFF, systemClock } from './clock.js';
export {
  DEFAULT_IDLE_IN_TRANSACTION_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_MIGRATIONS_DIR,
  DEFAULT_SCHEMA,
  DEFAULT_STATEMENT_LOCK_WAIT_MS,
  DEFAULT_STOP_GRACE_MS,
  DEFAULT_TABLE,
} from './defaults.js';
export {
  describeHolder,
  describeProblem,
  describeThrown,
  formatDuration,
  type LockHolder,
  type LockLostReason,
  lockLost,
  type MigErrorOptions,
  type MigrationDirection,
  sentence,
} from './errors.js';
export type { StoreHead } from './head.js';
export {
  computeChecksum,
  EMPTY_DIGEST,
  EMPTY_HEAD,
  type MigrationModule,
  nextDigest,
  prefixDigests,
  validateMigrations,
} from './migration.js';
export { statusCacheKey } from './migrator.js';
export {
  type ApplyAllOptions,
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
  type RecordOptions,
  type RecordOrigin,
  type RecordRewrite,
  type SessionLockPrimitive,
  type StoreInspector,
  type StoreTarget,
  silentLogger,
  type TryLockResult,
} from './ports.js';
export { IDLE_SERVICE_STATE } from './service/state.js';
export { renderSpanTree, type SpanTreeNode } from './span-tree.js';
export {
  DEFAULT_DDL_LOCK_TIMEOUT_MS,
  describeBlocker,
  describeBlockers,
  lockRetryDelay,
  nextAttemptMs,
  queryStart,
  type TableLockBlocker,
  type TableLockWait,
} from './table-lock.js';
export { createTelemetry, type Telemetry, type TelemetryOptions, withSpan } from './telemetry.js';
export { hasAuthority, isSecretName, redactCredentials, urlScheme } from './url.js';
