import { AbortedError, isMigError, LockTimeoutError, MigErrorCode } from '@mig/core';
import {
  type BackoffOptions,
  backoffDelay,
  type Clock,
  type LockChange,
  type LockHolder,
  type LockWait,
  type StoreHead,
  systemClock,
  type TryLockResult,
} from '@mig/core/adapter';

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
  /**
   * Looks up who holds the lock: on the first wait, every few seconds after, and at the timeout (not on each
   * attempt: a holder lookup reads the catalog). Without it, each attempt's own answer is used.
   */
  readonly holder?: (() => Promise<LockHolder | null>) | undefined;
  /** Sleeps until the holder signals a change, or `ms`. Without it, the wait between attempts is a backoff. */
  readonly waitForChange?: ((ms: number, signal?: AbortSignal) => Promise<LockChange>) | undefined;
  /** The head count at which the waiter is done (see `LockAcquireOptions.doneAtCount`). */
  readonly doneAtCount?: number | undefined;
}

export interface PollResult<T> {
  readonly value: T;
  readonly waitedMs: number;
  readonly attempts: number;
}

/** How often a waiter that is told of changes still tries on its own, in case a notice never came. */
export const FALLBACK_POLL_MS = 1_000;
/** How often the holder is looked up again while a wait lasts. */
const HOLDER_LOOKUP_EVERY_MS = 5_000;

/**
 * Acquires a lock by trying a non-blocking try-lock until it is granted, `timeoutMs` has passed (a final
 * attempt is made at the deadline, then `LockTimeoutError` naming the holder), or `signal` aborts. Between
 * attempts it sleeps until the holder signals a change (where the lock can hear it) or for an exponential
 * backoff with jitter. Never a blocking wait in the database: a blocked waiter holds a snapshot, and
 * `CREATE INDEX CONCURRENTLY` in the holder would wait for it forever.
 */
export async function pollForLock<T>(
  tryOnce: () => Promise<TryLockResult<T>>,
  options: PollOptions,
): Promise<PollResult<T>> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const deadline = started + Math.max(0, options.timeoutMs);
  const waiting: WaitState = {
    holder: null,
    lookedUpAt: Number.NEGATIVE_INFINITY,
    head: undefined,
    firstSeen: undefined,
  };
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) {
      throw new AbortedError(`Stopped waiting for the migration lock ${options.key}`, options.signal.reason);
    }
    const result: TryLockResult<T> = await attemptWithin(
      tryOnce,
      deadline - clock.now() + ATTEMPT_GRACE_MS,
      options.key,
      waiting.holder,
      clock,
    );
    const waitedMs = clock.now() - started;
    if (result.acquired) return { value: result.value, waitedMs, attempts: attempt };
    waiting.holder = result.holder ?? waiting.holder;
    if (result.head !== undefined) sawHead(waiting, result.head, clock.now());
    if (attempt === 1 || waitedMs - waiting.lookedUpAt >= HOLDER_LOOKUP_EVERY_MS)
      await lookUp(options, waiting, waitedMs);
    options.onWait?.({ attempt, waitedMs, holder: waiting.holder, head: waiting.head });
    if (deadline - clock.now() <= 0) {
      await lookUp(options, waiting, waitedMs);
      throw new LockTimeoutError(options.key, waitedMs, waiting.holder);
    }
    try {
      await waitBetween(attempt, options, waiting, { started, deadline, clock });
    } catch (error) {
      if (!isMigError(error, MigErrorCode.Aborted)) throw error;
      throw new AbortedError(`Stopped waiting for the migration lock ${options.key}`, options.signal?.reason);
    }
  }
}

/**
 * What a wait knows of the lock: its holder (and when it was looked up), the head the holder reached, and
 * the first change of the head it saw (with when), from which the holder's pace is estimated.
 */
interface WaitState {
  holder: LockHolder | null;
  lookedUpAt: number;
  head: StoreHead | undefined;
  firstSeen: { readonly count: number; readonly at: number } | undefined;
}

function sawHead(waiting: WaitState, head: StoreHead, now: number): void {
  // The pace is counted from the first count seen to change: a count seen first may be old by a whole wait.
  if (waiting.head !== undefined && head.count !== waiting.head.count)
    waiting.firstSeen ??= { count: head.count, at: now };
  waiting.head = head;
}

/**
 * When a polling waiter that knows where it is done (`doneAtCount`) should look again: at its backoff, or
 * sooner, about when the holder will reach that count at the pace it has kept since this wait first saw it.
 * So a waiter is done soon after the holder, without polling faster the whole time.
 */
function pollDelay(attempt: number, options: PollOptions, waiting: WaitState, now: number): number {
  const backoff = backoffDelay(attempt, options.backoff);
  const { head, firstSeen } = waiting;
  const doneAt = options.doneAtCount;
  if (doneAt === undefined || head === undefined || firstSeen === undefined || head.count <= firstSeen.count) {
    return backoff;
  }
  const perMigrationMs = (now - firstSeen.at) / (head.count - firstSeen.count);
  const eta = Math.max(0, doneAt - head.count) * perMigrationMs;
  return Math.min(backoff, Math.max(options.backoff?.initialDelayMs ?? MIN_POLL_MS, eta));
}

/** The shortest wait between two polls. */
const MIN_POLL_MS = 25;

async function lookUp(options: PollOptions, waiting: WaitState, waitedMs: number): Promise<void> {
  if (!options.holder) return;
  waiting.lookedUpAt = waitedMs;
  // Only for a report: a failed lookup keeps the holder last seen.
  waiting.holder = (await options.holder().catch(() => undefined)) ?? waiting.holder;
}

/**
 * Until the next attempt: with change notices, until the holder lets go (or a fallback interval passes),
 * reporting each migration it announces; without, a backoff sleep.
 */
async function waitBetween(
  attempt: number,
  options: PollOptions,
  waiting: WaitState,
  { started, deadline, clock }: { started: number; deadline: number; clock: Clock },
): Promise<void> {
  const remaining = () => deadline - clock.now();
  if (!options.waitForChange) {
    await clock.sleep(Math.min(pollDelay(attempt, options, waiting, clock.now()), remaining()), options.signal);
    return;
  }
  for (;;) {
    const fallback = FALLBACK_POLL_MS * (0.75 + 0.5 * Math.random());
    const change = await options.waitForChange(Math.max(0, Math.min(fallback, remaining())), options.signal);
    if (options.signal?.aborted) throw new AbortedError('Stopped waiting', options.signal.reason);
    if (change.kind === 'timeout') return;
    if (change.head === undefined) return;
    sawHead(waiting, change.head, clock.now());
    // Told before the next attempt: a waiter whose work the head covers is done without trying the lock.
    options.onWait?.({ attempt, waitedMs: clock.now() - started, holder: waiting.holder, head: waiting.head });
    if (change.kind === 'released' || remaining() <= 0) return;
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
