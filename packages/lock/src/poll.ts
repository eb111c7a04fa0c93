import {
  AbortedError,
  type BackoffOptions,
  type Clock,
  isMigError,
  type LockHolder,
  LockTimeoutError,
  type LockWait,
  MigErrorCode,
  systemClock,
  type TryLockResult,
} from '@mig/core';
import { backoffDelay } from '@mig/core/adapter';

/** How long an attempt that is already running may overrun the deadline before the wait gives up on it. */
export const ATTEMPT_GRACE_MS = 1_000;

/**
 * One attempt, bounded: a try-lock statement can itself be stuck (a lease row locked by a long
 * transaction, a connection that hangs). A late grant is not lost track of for long: a lease expires, and a
 * session lock's session is closed by its caller.
 */
async function attemptWithin<T>(
  tryOnce: () => Promise<TryLockResult<T>>,
  ms: number,
  key: string,
  holder: LockHolder | null,
  clock: Clock,
): Promise<TryLockResult<T>> {
  let cancel = () => {};
  const attempt = tryOnce();
  attempt.catch(() => {
    // A failure after the wait gave up on this attempt has no one left to tell.
  });
  const late = new Promise<never>((_, reject) => {
    cancel = clock.schedule(Math.max(0, ms), () =>
      reject(new LockTimeoutError(key, ms, holder ?? { owner: 'unknown: the lock attempt itself did not answer' })),
    );
  });
  try {
    return await Promise.race([attempt, late]);
  } finally {
    cancel();
  }
}

export interface PollOptions {
  /** What is being locked, for the timeout error. */
  readonly key: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly onWait?: ((wait: LockWait) => void) | undefined;
  readonly backoff?: BackoffOptions | undefined;
  readonly clock?: Clock | undefined;
}

export interface PollResult<T> {
  readonly value: T;
  readonly waitedMs: number;
  readonly attempts: number;
}

/**
 * Acquires a lock by polling a non-blocking try-lock with exponential backoff and jitter, until it is
 * granted, `timeoutMs` has passed (a final attempt is made at the deadline, then `LockTimeoutError` naming the
 * last holder seen), or `signal` aborts. Never a blocking wait in the database: a blocked waiter holds a
 * snapshot, and `CREATE INDEX CONCURRENTLY` in the holder would wait for it forever.
 */
export async function pollForLock<T>(
  tryOnce: () => Promise<TryLockResult<T>>,
  options: PollOptions,
): Promise<PollResult<T>> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const deadline = started + Math.max(0, options.timeoutMs);
  let holder: LockHolder | null = null;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) {
      throw new AbortedError(`Stopped waiting for the migration lock ${options.key}`, options.signal.reason);
    }
    const result: TryLockResult<T> = await attemptWithin(
      tryOnce,
      deadline - clock.now() + ATTEMPT_GRACE_MS,
      options.key,
      holder,
      clock,
    );
    const waitedMs = clock.now() - started;
    if (result.acquired) return { value: result.value, waitedMs, attempts: attempt };
    holder = result.holder;
    options.onWait?.({ attempt, waitedMs, holder });
    const remaining = deadline - clock.now();
    if (remaining <= 0) throw new LockTimeoutError(options.key, waitedMs, holder);
    try {
      await clock.sleep(Math.min(backoffDelay(attempt, options.backoff), remaining), options.signal);
    } catch (error) {
      if (!isMigError(error, MigErrorCode.Aborted)) throw error;
      throw new AbortedError(`Stopped waiting for the migration lock ${options.key}`, options.signal?.reason);
    }
  }
}

/**
 * A lock timeout raised by an inner step (the poll after opening a session, the lock after the in-process
 * mutex) restated with the caller's whole wait, which is what the caller's timeout measured.
 */
export function withWholeWait(error: unknown, startedAt: number, clock: Clock): unknown {
  return error instanceof LockTimeoutError
    ? new LockTimeoutError(error.key, clock.now() - startedAt, error.holder)
    : error;
}
