// `@mig/core/adapter`: helpers for authors of stores, locks and sources. Not needed to use mig.
export { backoffDelay, DEFAULT_BACKOFF } from './clock.js';
export { describeThrown, formatDuration, lockLost, sentence } from './errors.js';
export {
  compareNames,
  computeChecksum,
  EMPTY_DIGEST,
  EMPTY_HEAD,
  nextDigest,
  prefixDigests,
  validateMigrations,
} from './migration.js';
export { LocalHistory, type MigrationPlan, planMigrations } from './planner.js';
export { renderSpanTree, type SpanTreeNode } from './span-tree.js';
export { createTelemetry, errorType, markFailed, type Telemetry, withSpan } from './telemetry.js';
export { hasAuthority, isSecretName, urlScheme } from './url.js';
