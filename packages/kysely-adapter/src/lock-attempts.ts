import {
  describeBlockers,
  describeThrown,
  lockRetryDelay,
  nextAttemptMs,
  type TableLockBlocker,
  type TableLockWait,
} from '@mig/core/adapter';
import { type Step, throwIfStopped } from './store-engine.js';

// Short lock attempts, the same on every engine that has them: each attempt waits for a table lock no longer
// than a short timeout; one that runs out is undone (its transaction rolled back, or its one statement had no
// effect), so the queries queued behind its lock request go through, and it is tried again after a backoff
// with jitter until the budget is spent. While an attempt waits, another session looks up who blocks it.

/** Who blocks the step's session now, looked up from another session. */
export type BlockerLookup = () => Promise<readonly TableLockBlocker[]>;

export interface LockAttemptOptions {
  /** One attempt's lock timeout, ms; 0 for one attempt as long as the budget. */
  readonly attemptMs: number;
  /** All attempts together, ms; 0 for no limit. */
  readonly budgetMs: number;
  readonly step: Step;
  /** The engine's lock timeout error. */
  isLockTimeout(error: unknown): boolean;
  /** Finds the blockers while an attempt waits; without it, the blocker is not named. */
  readonly lookup?: BlockerLookup | undefined;
  /** How the engine counts its lock timeout, for messages (MySQL in whole seconds). */
  readonly unit?: 'ms' | 's' | undefined;
}

/**
 * Runs `attempt(lockTimeoutMs)` until it succeeds, fails otherwise, or the budget is spent. `attempt` must
 * leave nothing behind when it fails on its lock timeout (a transaction rolled back, or one statement that
 * had no effect).
 */
export async function withLockAttempts(
  options: LockAttemptOptions,
  attempt: (lockTimeoutMs: number) => Promise<void>,
): Promise<void> {
  const { attemptMs, budgetMs, step } = options;
  const started = performance.now();
  // The blockers an earlier attempt saw, for the final error when the last look-up came too late.
  let seen: readonly TableLockBlocker[] = [];
  for (let n = 1; ; n++) {
    const lockTimeoutMs = nextAttemptMs(attemptMs, budgetMs, performance.now() - started);
    const attemptStarted = performance.now();
    const watch = watchBlockers(options.lookup, lockTimeoutMs);
    try {
      await attempt(lockTimeoutMs);
      watch.cancel();
      return;
    } catch (error) {
      if (!options.isLockTimeout(error) || step.signal?.aborted) {
        watch.cancel();
        throw error;
      }
      const found = await watch.result();
      if (found.length > 0) seen = found;
      const now = performance.now();
      const delay = lockRetryDelay(n);
      const left = budgetMs > 0 ? budgetMs - (now - started) - delay : Number.POSITIVE_INFINITY;
      const retry = attemptMs > 0 && left >= Math.min(attemptMs, 100);
      const wait: TableLockWait = {
        attempt: n,
        waitedMs: now - attemptStarted,
        elapsedMs: now - started,
        blockers: found,
        retryInMs: retry ? delay : undefined,
      };
      step.onLockWait?.(wait);
      if (!retry) throw lockBudgetSpent(error, { ...wait, blockers: found.length > 0 ? found : seen }, options);
      await pause(delay, step.signal);
      throwIfStopped(step);
    }
  }
}

/** The final error: how long and how often it tried, who blocked it, and what to do. */
function lockBudgetSpent(error: unknown, wait: TableLockWait, options: LockAttemptOptions): Error {
  const waited = options.budgetMs > 0 ? options.budgetMs : Math.round(wait.elapsedMs);
  const attempts =
    wait.attempt === 1
      ? ''
      : `, in ${wait.attempt} attempts of at most ${options.unit === 's' ? `${Math.ceil(options.attemptMs / 1000)} s` : `${options.attemptMs} ms`} each, letting other queries through between them`;
  const failure = new Error(
    `${describeThrown(error)}: it waited more than ${options.unit === 's' ? `${Math.round(waited / 1000)} s` : `${waited} ms`} for a lock that another session holds${attempts}; ` +
      `${describeBlockers(wait.blockers)}. Retry when that session ends, or raise the lock timeout ` +
      '(lockTimeout, MIGRATION_LOCK_TIMEOUT)',
    { cause: error },
  );
  return Object.assign(failure, { attempts: wait.attempt, blockers: wait.blockers });
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface BlockerWatch {
  cancel(): void;
  /** The blockers seen while the attempt waited; empty when none were (or the look-up was too slow). */
  result(): Promise<readonly TableLockBlocker[]>;
}

/** Most time the look-up may add to a failed attempt before mig goes on without it. */
const LOOKUP_GRACE_MS = 1_000;

/**
 * Looks up, shortly before the attempt's lock timeout runs out, who blocks the step's session: the attempt
 * is still waiting then, so pg_blocking_pids names the sessions ahead of it.
 */
function watchBlockers(lookup: BlockerLookup | undefined, lockTimeoutMs: number): BlockerWatch {
  if (lookup === undefined || lockTimeoutMs <= 0) return { cancel() {}, result: async () => [] };
  let found: Promise<readonly TableLockBlocker[]> | undefined;
  const lookAt = Math.max(0, lockTimeoutMs - Math.min(250, lockTimeoutMs / 4));
  const timer = setTimeout(() => {
    found = lookup().catch(() => []);
  }, lookAt);
  timer.unref?.();
  return {
    cancel: () => clearTimeout(timer),
    async result() {
      clearTimeout(timer);
      if (found === undefined) return [];
      let grace: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<readonly TableLockBlocker[]>((resolve) => {
        grace = setTimeout(() => resolve([]), LOOKUP_GRACE_MS);
      });
      try {
        return await Promise.race([found, late]);
      } finally {
        clearTimeout(grace);
      }
    },
  };
}
