// The lock section: what a run or a history operation does under the migration lock happens inside
// `enter()`, which prepares the store, waits for the lock (reporting the wait), binds the store to the lease
// and releases it whatever happens. Nothing else in the migrator touches a lock.
import type { Span } from '@opentelemetry/api';
import { AbortedError, describeHolder, describeThrown, isMigError, MigErrorCode } from '../errors.js';
import type { StoreHead } from '../head.js';
import type { Migration } from '../migration.js';
import type { LocalHistory } from '../planner.js';
import type { LockLease, LockWait, MigrationLock, MigrationStore } from '../ports.js';
import { Attr, SpanName, withSpan } from '../telemetry.js';
import type { MigratorContext } from './context.js';
import { readStatus } from './status-check.js';
import type { RunProgress } from './types.js';

/** Who waits for a lock: reports its waits and keeps how long it waited. */
export interface LockWaiter {
  progress(event: RunProgress): void;
  lockWaitMs: number;
}

/** What a caller asks of the lock section. */
export interface LockRequest {
  readonly waiter: LockWaiter;
  readonly signal?: AbortSignal | undefined;
  /** Overrides the migrator's `lockTimeoutMs`. */
  readonly lockTimeoutMs?: number | undefined;
}

/** An `up`'s work: while it waits, the section looks whether another instance has done it meanwhile. */
export interface UpWork<Db> {
  readonly history: LocalHistory<Db>;
  readonly targets: readonly Migration<Db>[];
}

/**
 * Inside the section: the store, bound to the lease's fence (the lease is undefined when the migrator has no
 * lock: the store is then used as given, prepared).
 */
export interface HeldSection<Db, F> {
  readonly kind: 'held';
  readonly store: MigrationStore<Db, F>;
  readonly lease: LockLease<F> | undefined;
  /** The head the store is left at, where the body knows it: the release tells waiters, who then need no read. */
  reached(head: StoreHead): void;
}

/**
 * Or, for an `up` that waited: another instance applied every target, so the lock was never needed. `head`
 * is the store's head as the holder announced it, when that is how the waiter knew.
 */
export interface DoneElsewhereSection {
  readonly kind: 'done-elsewhere';
  readonly head?: StoreHead | undefined;
}

export type LockSection<Db, F> = HeldSection<Db, F> | DoneElsewhereSection;

/**
 * Runs `body` under the migrator's lock. Creates the store's tables first when the lock lives in them, else
 * under the lock (by one process rather than by every racing one); waits for the lock within the timeout;
 * binds the store to the lease; releases the lease in `finally`. With `work` (an `up`), the wait also
 * ends when another instance applied all of it: `body` then gets `{ kind: 'done-elsewhere' }`.
 */
export function enter<Db, F, T>(
  context: MigratorContext<Db, F>,
  request: LockRequest & { readonly work?: undefined },
  body: (section: HeldSection<Db, F>) => Promise<T>,
): Promise<T>;
export function enter<Db, F, T>(
  context: MigratorContext<Db, F>,
  request: LockRequest & { readonly work?: UpWork<Db> | undefined },
  body: (section: LockSection<Db, F>) => Promise<T>,
): Promise<T>;
export async function enter<Db, F, T>(
  context: MigratorContext<Db, F>,
  request: LockRequest & { readonly work?: UpWork<Db> | undefined },
  body: (section: HeldSection<Db, F>) => Promise<T>,
): Promise<T> {
  const { lock } = context.options;
  const { store } = context;
  if (!lock || lock.livesInStore) await store.prepare();
  if (!lock) return body({ kind: 'held', store, lease: undefined, reached() {} });
  const doneElsewhere = request.work ? watchForDoneElsewhere(context, request.work) : neverDone();
  const lease = await acquire(context, lock, request, doneElsewhere);
  if (!lease) {
    // Only a wait with `work` ends without a lease, and its overload takes a body for either section.
    const section: DoneElsewhereSection = { kind: 'done-elsewhere', head: doneElsewhere.head() };
    return (body as (section: LockSection<Db, F>) => Promise<T>)(section);
  }
  let head: StoreHead | undefined;
  try {
    const bound = store.bind(lease.fence);
    if (!lock.livesInStore) await bound.prepare();
    return await body({ kind: 'held', store: bound, lease, reached: (reached) => (head = reached) });
  } finally {
    await release(context, lock, lease, head);
  }
}

/** Before entering: a caller that already gave up takes no lock and creates no table. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what, signal.reason);
}

/**
 * Aborts `signal` once the work a lock wait is for was done by another instance; `look` checks, lock-free.
 * `doneAtCount` is the head count where that would be; `head()` the head that told, when a notice did.
 */
interface DoneElsewhere {
  readonly signal: AbortSignal;
  readonly doneAtCount?: number | undefined;
  look(wait: LockWait): void;
  head(): StoreHead | undefined;
}

let never: DoneElsewhere | undefined;

/** Made on first use: a Worker may not create an AbortController while its module loads. */
function neverDone(): DoneElsewhere {
  never ??= { signal: new AbortController().signal, look() {}, head: () => undefined };
  return never;
}

/**
 * Waits for the lock in a span. While an `up` waits, it looks (lock-free) whether the holder already
 * applied what this run came for; then the wait ends without a lease (undefined) and without an error,
 * so racing instances finish with the holder instead of one by one.
 */
async function acquire<Db, F>(
  context: MigratorContext<Db, F>,
  lock: MigrationLock<F>,
  request: LockRequest,
  doneElsewhere: DoneElsewhere,
): Promise<LockLease<F> | undefined> {
  const { waiter } = request;
  const signal = request.signal ? AbortSignal.any([request.signal, doneElsewhere.signal]) : doneElsewhere.signal;
  const timeoutMs = request.lockTimeoutMs ?? context.lockTimeoutMs;
  const spanAttributes = { [Attr.LockStrategy]: lock.strategy, [Attr.LockKey]: lock.key };
  return withSpan(context.tracer, SpanName.LockAcquire, spanAttributes, async (span) => {
    let attempts = 1;
    const started = performance.now();
    const report = waitReporter(context, waiter, lock, span);
    const outcome = (waitedMs: number, result: 'acquired' | 'timeout' | 'aborted' | 'not-needed') => {
      context.metrics.lockWaited(lock.strategy, waitedMs / 1000, result);
      span.setAttributes({ [Attr.LockWaitMs]: Math.round(waitedMs), [Attr.LockAttempts]: attempts });
      waiter.lockWaitMs = waitedMs;
    };
    let lease: LockLease<F>;
    try {
      lease = await lock.acquire({
        timeoutMs,
        signal,
        doneAtCount: doneElsewhere.doneAtCount,
        onWait: (wait) => {
          attempts = wait.attempt + 1;
          doneElsewhere.look(wait);
          report(wait);
        },
      });
    } catch (error) {
      const waited = performance.now() - started;
      // Also when the caller aborted at the same moment: the work it wanted is done either way.
      if (doneElsewhere.signal.aborted && isMigError(error, MigErrorCode.Aborted)) {
        span.addEvent('mig.lock.not_needed', { [Attr.LockWaitMs]: Math.round(waited) });
        outcome(waited, 'not-needed');
        return undefined;
      }
      outcome(waited, isMigError(error, MigErrorCode.LockTimeout) ? 'timeout' : 'aborted');
      throw error;
    }
    // Nothing between the grant and the section's `finally` may throw, or the lock would be held forever.
    try {
      waiter.progress({ type: 'lock-acquired', waitedMs: lease.waitedMs });
      outcome(lease.waitedMs, 'acquired');
    } catch (error) {
      await release(context, lock, lease);
      throw error;
    }
    return lease;
  });
}

/** Reports a busy lock: a span event (an expected retry, not an error), progress, and a log line now and then. */
function waitReporter<Db, F>(context: MigratorContext<Db, F>, waiter: LockWaiter, lock: MigrationLock<F>, span: Span) {
  let lastLog = Number.NEGATIVE_INFINITY;
  return (wait: LockWait) => {
    waiter.progress({ type: 'lock-wait', wait });
    const holder = describeHolder(wait.holder);
    if (wait.holder) span.setAttribute(Attr.LockHolder, holder);
    span.addEvent('mig.lock.busy', {
      [Attr.LockAttempts]: wait.attempt,
      [Attr.LockWaitMs]: Math.round(wait.waitedMs),
      [Attr.LockHolder]: holder,
    });
    // The first wait, then at most every 5 s, so a long wait is visible but not noisy.
    if (wait.waitedMs - lastLog >= 5_000 || wait.attempt === 1) {
      lastLog = wait.waitedMs;
      context.logger.info(
        { lock: lock.key, waitedMs: Math.round(wait.waitedMs), holder: wait.holder },
        `waiting for the migration lock, held by ${holder}`,
      );
    }
  };
}

/**
 * While an `up` waits for the lock: aborts `signal` once every migration this run came for is applied by
 * someone else. A head the lock heard of (the holder's notice, the attempt's own read) that the local history
 * matches settles it at once, without a read; otherwise a lock-free status read per busy attempt (never two
 * at once) looks, and not before the head count covers the targets.
 */
function watchForDoneElsewhere<Db, F>(context: MigratorContext<Db, F>, work: UpWork<Db>): DoneElsewhere {
  const { history, targets } = work;
  const done = new AbortController();
  let looking = false;
  let told: StoreHead | undefined;
  // The head count at which every target would be applied: below it, a holder's notice is not worth a look.
  const last = targets.at(-1);
  const needed = last === undefined ? 0 : history.migrations.indexOf(last) + 1;
  const covered = (head: StoreHead) => {
    const pending = history.pendingAfter(head);
    if (pending === undefined) return false;
    const left = new Set(pending);
    return targets.every((m) => !left.has(m));
  };
  const look = (wait: LockWait) => {
    if (looking || done.signal.aborted) return;
    if (wait.head !== undefined && wait.head.count < needed) return;
    if (wait.head !== undefined && covered(wait.head)) {
      told = wait.head;
      done.abort('applied by another instance');
      return;
    }
    looking = true;
    readStatus(history, context.store)
      .then((status) => {
        const pending = new Set(status.pending);
        const left = targets.filter((m) => pending.has(m.name));
        if (status.problems.length === 0 && left.length === 0) done.abort('applied by another instance');
      })
      .catch(() => {
        // Only a shortcut: the wait goes on and the status is read again under the lock.
      })
      .finally(() => {
        looking = false;
      });
  };
  return { signal: done.signal, doneAtCount: needed, look, head: () => told };
}

/**
 * The longest wait for a release: a connection that a stopped migration still holds (one that awaits a
 * promise that never settles) can keep a release from ever getting through. The lock then lapses by itself:
 * its session ends with the process, a lease is taken over once its holder's process is gone, or expires.
 */
const RELEASE_WAIT_MS = 2_000;

/** `work`, or an error once `ms` passed without it. */
function bounded<Db, F>(work: Promise<void>, ms: number, context: MigratorContext<Db, F>): Promise<void> {
  const cancel = new AbortController();
  const late = context.clock.sleep(ms, cancel.signal).then(() => {
    throw new Error(`the release did not finish within ${ms} ms (a stopped migration may hold its connection)`);
  });
  late.catch(() => {});
  work.catch(() => {});
  return Promise.race([work, late]).finally(() => cancel.abort());
}

async function release<Db, F>(
  context: MigratorContext<Db, F>,
  lock: MigrationLock<F>,
  lease: LockLease<F>,
  reached?: StoreHead,
): Promise<void> {
  const { logger } = context;
  const attributes = { [Attr.LockStrategy]: lock.strategy, [Attr.LockKey]: lock.key };
  const lostBefore = lease.lost.aborted;
  try {
    await withSpan(context.tracer, SpanName.LockRelease, attributes, () =>
      bounded(lease.release(reached), RELEASE_WAIT_MS, context),
    );
    // Found lost only now (e.g. a pooler swapped the session): worth a warning, the run's outcome stands.
    if (!lostBefore && lease.lost.aborted) {
      const reason = lease.lost.reason as { message?: string; code?: string; context?: object };
      logger.warn(
        { lock: lock.key, code: reason?.code, context: reason?.context },
        reason?.message ?? 'the migration lock was found lost at release',
      );
    }
  } catch (error) {
    // The lock lapses by itself (session end or lease expiry); the run's own outcome stands.
    logger.warn({ lock: lock.key, err: describeThrown(error) }, 'releasing the migration lock failed');
  }
}
