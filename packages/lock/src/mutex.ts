import { AbortedError, LockTimeoutError, type MigrationLock } from '@mig/core';
import { type Clock, type LockAcquireOptions, type LockLease, systemClock } from '@mig/core/adapter';
import { withWholeWait } from './poll.js';

/** A FIFO mutex inside one process; waits are bounded by a timeout and an AbortSignal. */
export class Mutex {
  #held = false;
  readonly #queue: Array<{ grant: () => void }> = [];

  get locked(): boolean {
    return this.#held;
  }

  /** Resolves with a release function once the mutex is this caller's. */
  acquire(options: { timeoutMs?: number; signal?: AbortSignal | undefined; key?: string } = {}): Promise<() => void> {
    const release = this.#releaser();
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(release);
    }
    const key = options.key ?? 'in-process mutex';
    if (options.signal?.aborted) {
      return Promise.reject(new AbortedError(`Stopped waiting for ${key}`, options.signal.reason));
    }
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const waiter = {
        grant: () => {
          cleanup();
          resolve(release);
        },
      };
      const fail = (error: Error) => {
        const index = this.#queue.indexOf(waiter);
        if (index >= 0) this.#queue.splice(index, 1);
        cleanup();
        reject(error);
      };
      // Not unref'd: the caller awaits this wait (see the clock's sleep).
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(
              () =>
                fail(
                  new LockTimeoutError(key, performance.now() - started, {
                    owner: 'another caller in this process',
                  }),
                ),
              Math.max(0, options.timeoutMs),
            );
      const onAbort = () => fail(new AbortedError(`Stopped waiting for ${key}`, options.signal?.reason));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      this.#queue.push(waiter);
    });
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#queue.shift();
      if (next) next.grant();
      else this.#held = false;
    };
  }
}

const REGISTRY = Symbol.for('@mig/lock.process-mutexes');

/**
 * The process-wide mutex for a lock key, shared by every copy of this package loaded in the process, so
 * that two services (or two callers) in one process never race each other for the same database lock.
 */
export function processMutex(key: string): Mutex {
  const holder = globalThis as { [REGISTRY]?: Map<string, Mutex> };
  holder[REGISTRY] ??= new Map();
  let mutex = holder[REGISTRY].get(key);
  if (!mutex) {
    mutex = new Mutex();
    holder[REGISTRY].set(key, mutex);
  }
  return mutex;
}

/**
 * Wraps a lock so that callers in one process queue on an in-process mutex first: only one of them at a
 * time holds a database session or polls the database, and the others wait without any I/O. The wait on
 * the mutex counts toward the caller's timeout.
 */
export function withProcessMutex<F>(
  lock: MigrationLock<F>,
  options: {
    /** Tells apart locks with the same key on different databases, e.g. "db.internal:5432/shop". */
    readonly scope?: string | undefined;
    readonly clock?: Clock | undefined;
  } = {},
): MigrationLock<F> {
  const clock = options.clock ?? systemClock;
  const mutex = processMutex(`${lock.strategy}:${options.scope ?? ''}:${lock.key}`);
  return {
    strategy: lock.strategy,
    key: lock.key,
    livesInStore: lock.livesInStore,
    async acquire(acquire: LockAcquireOptions): Promise<LockLease<F>> {
      const started = clock.now();
      const unlock = await mutex.acquire({ timeoutMs: acquire.timeoutMs, signal: acquire.signal, key: lock.key });
      try {
        const spent = clock.now() - started;
        const lease = await lock.acquire({ ...acquire, timeoutMs: Math.max(0, acquire.timeoutMs - spent) });
        return {
          fence: lease.fence,
          waitedMs: spent + lease.waitedMs,
          lost: lease.lost,
          async release(reached) {
            try {
              await lease.release(reached);
            } finally {
              unlock();
            }
          },
        };
      } catch (error) {
        unlock();
        throw withWholeWait(error, started, clock);
      }
    },
  };
}

/**
 * A lock for an engine that lives in one process (PGlite): the process-wide mutex alone.
 *
 * @example
 * const lock = createLocalLock('pglite:./.data/pglite');
 */
export function createLocalLock(key: string, options: { readonly clock?: Clock | undefined } = {}): MigrationLock {
  const clock = options.clock ?? systemClock;
  const mutex = processMutex(`mutex:${key}`);
  return {
    strategy: 'mutex',
    key,
    livesInStore: false,
    async acquire(acquire: LockAcquireOptions): Promise<LockLease> {
      const started = clock.now();
      const release = await mutex.acquire({ timeoutMs: acquire.timeoutMs, signal: acquire.signal, key });
      return {
        fence: undefined,
        waitedMs: clock.now() - started,
        lost: new AbortController().signal,
        release: async () => release(),
      };
    },
  };
}
