// Every error mig throws, by what it is about: the base (`MigError`, its codes, the helpers every message
// uses), a migration's own failures, the lock, a run stopped while it ran, the history, and the service.
export {
  describeThrown,
  InvalidOptionError,
  isMigError,
  MigError,
  MigErrorCode,
  type MigErrorOptions,
  sentence,
} from './errors/base.js';
export {
  ForeignHistoryError,
  HistoryMismatchError,
  InvalidTargetError,
  MigrationConflictError,
} from './errors/history.js';
export {
  describeHolder,
  type LockHolder,
  LockLostError,
  type LockLostReason,
  LockTimeoutError,
  lockLost,
} from './errors/lock.js';
export {
  describeProblem,
  type MigrationDirection,
  MigrationDriftError,
  MigrationFailedError,
  type MigrationProblem,
  MigrationSourceError,
} from './errors/migration.js';
export { ConnectionError, PendingMigrationsError } from './errors/service.js';
export { AbortedError, formatDuration, MigrationInterruptedError, MigrationTimeoutError } from './errors/stopped.js';
export { redactCredentials } from './url.js';
