// The service's policy: pure functions that say what to do with a status, or after a failure. They read
// nothing and change nothing; the service carries their decisions out (logs, state, the run, errors).
import { backoffDelay } from '../clock.js';
import {
  DEFAULT_FAILURE_POLICY,
  DEFAULT_PENDING_POLICY,
  DEFAULT_RETRY_BACKOFF,
  type FailurePolicy,
  type PendingPolicy,
} from '../defaults.js';
import { type MigError, MigErrorCode, type MigrationProblem } from '../errors.js';
import type { ForeignHistorySummary } from '../ports.js';
import type { MigrationStatus } from '../status.js';

/** What the service was told to do with pending migrations and failures (its options, defaults applied). */
export interface ServicePolicy {
  readonly autoMigrate: boolean;
  readonly dryRun: boolean;
  readonly onPending: PendingPolicy;
  readonly onFailure: FailurePolicy;
}

/** The policy from a service's options: never migrates, warns on pending, throws on failure, unless told. */
export function resolvePolicy(options: {
  readonly autoMigrate?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
  readonly onPending?: PendingPolicy | undefined;
  readonly onFailure?: FailurePolicy | undefined;
}): ServicePolicy {
  return Object.freeze({
    autoMigrate: options.autoMigrate ?? false,
    dryRun: options.dryRun ?? false,
    onPending: options.onPending ?? DEFAULT_PENDING_POLICY,
    onFailure: options.onFailure ?? DEFAULT_FAILURE_POLICY,
  });
}

/**
 * Other tools' histories in the database: `found` by the look {@link decide} asked for (undefined before
 * it), `known` from an earlier look (the service's state).
 */
export interface ForeignHistories {
  readonly found?: readonly ForeignHistorySummary[] | undefined;
  readonly known: readonly ForeignHistorySummary[];
}

/** What the service does with a status. */
export type Decision =
  /** Up to date (`ahead`: migrations a newer deploy applied, worth a warning): serve. */
  | { readonly kind: 'serve'; readonly ahead: readonly string[] }
  /** The applied history disagrees with the local migrations: fail, whatever the policy (never rerun). */
  | { readonly kind: 'drift'; readonly problems: readonly MigrationProblem[] }
  /** Pending on a database without mig records: look for another tool's history before deciding. */
  | { readonly kind: 'look-for-foreign' }
  /** Another tool's history, found now: report it, and serve the schema as it is or refuse. */
  | { readonly kind: 'foreign'; readonly histories: readonly ForeignHistorySummary[]; readonly refuse: boolean }
  /**
   * Another tool's history was reported before: keep serving as it is, apply nothing. The known histories
   * are the state's, which nothing clears, so this holds until the process restarts, even once that history
   * was adopted (the behaviour before the split, kept as it was).
   */
  | { readonly kind: 'keep' }
  /** Plan and preview, write nothing. */
  | { readonly kind: 'dry-run' }
  /** Pending with automatic migration off: report it, and serve anyway or refuse. */
  | { readonly kind: 'pending'; readonly pending: readonly string[]; readonly refuse: boolean }
  /** Apply the pending migrations. */
  | { readonly kind: 'migrate'; readonly pending: readonly string[] };

/**
 * What to do with a status, by policy. Up to date serves and drift fails whatever the policy; pending is
 * looked at in order: another tool's history first (mig would apply it again), then a dry run, then
 * automatic migration off (`onPending`: warn or refuse), and only then a migration.
 *
 * @example
 * decide(status, policy, { known: [] }); // { kind: 'migrate', pending: ['002_add_email'] }
 */
export function decide(status: MigrationStatus, policy: ServicePolicy, foreign: ForeignHistories): Decision {
  if (status.state === 'up-to-date') return { kind: 'serve', ahead: status.ahead };
  if (status.state === 'drifted') return { kind: 'drift', problems: status.problems };
  const refuse = policy.onPending === 'refuse';
  // Only a database without mig records can hold a history mig would apply a second time.
  if (status.appliedCount === 0) {
    if (foreign.found === undefined) return { kind: 'look-for-foreign' };
    if (foreign.found.length > 0) return { kind: 'foreign', histories: foreign.found, refuse };
  }
  if (foreign.known.length > 0) return { kind: 'keep' };
  if (policy.dryRun) return { kind: 'dry-run' };
  if (!policy.autoMigrate) return { kind: 'pending', pending: status.pending, refuse };
  return { kind: 'migrate', pending: status.pending };
}

/** Where a failure happened, as far as the failure policy cares. */
export interface FailureContext {
  /** Failures in a row before this one. */
  readonly failures: number;
  /** The service has a connection it could keep serving. */
  readonly connected: boolean;
  /** `close()` was called. */
  readonly closing: boolean;
  /** The service's `retryBackoff` option. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number } | undefined;
}

/** What the service does after a failed initialization. */
export type FailureDecision =
  /** Not a failure of the database (closed, or a caller's budget ran out): the next call tries again at once. */
  | { readonly kind: 'give-up' }
  /** A failure: retry on a call after `delayMs`; meanwhile serve (degraded) or answer with the failure. */
  | { readonly kind: 'retry'; readonly degraded: boolean; readonly delayMs: number };

/**
 * What to do after a failure, by policy: `onFailure: 'degrade'` keeps serving a connected service, except
 * when it refuses pending migrations or never connected; the wait before the next attempt doubles with
 * each failure in a row, from `initialMs` to `maxMs` (no jitter: one service, one schedule).
 */
export function decideFailure(error: MigError, policy: ServicePolicy, context: FailureContext): FailureDecision {
  if (context.closing || error.code === MigErrorCode.Aborted) return { kind: 'give-up' };
  const delayMs = backoffDelay(context.failures + 1, {
    initialDelayMs: context.backoff?.initialMs ?? DEFAULT_RETRY_BACKOFF.initialMs,
    maxDelayMs: context.backoff?.maxMs ?? DEFAULT_RETRY_BACKOFF.maxMs,
    factor: 2,
    jitter: 0,
  });
  const degraded =
    context.connected &&
    policy.onFailure === 'degrade' &&
    error.code !== MigErrorCode.Pending &&
    error.code !== MigErrorCode.ConnectFailed;
  return { kind: 'retry', degraded, delayMs };
}
