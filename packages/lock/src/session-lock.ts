import {
  type LockAcquireOptions,
  type LockLease,
  LockLostError,
  type LockSession,
  LockTimeoutError,
  type MigrationLock,
  type SessionLockPrimitive,
} from '@mig/core';
import type { BackoffOptions } from './backoff.js';
import { type LockClock, systemClock } from './clock.js';
import { pollForLock, withWholeWait } from './poll.js';

export interface SessionLockOptions {
  readonly backoff?: BackoffOptions | undefined;
  readonly clock?: LockClock | undefined;
}

/**
 * A lock held by a dedicated database session (a PostgreSQL session advisory lock): opens the session,
 * polls its try-lock with backoff, and on release unlocks and ends the session. If the holder dies, its
 * session ends and the database releases the lock by itself: no stale lock, no manual unlock.
 */
export function createSessionLock(primitive: SessionLockPrimitive, options: SessionLockOptions = {}): MigrationLock {
  const clock = options.clock ?? systemClock;
  return {
    strategy: primitive.strategy,
    key: primitive.key,
    async acquire({ timeoutMs, signal, onWait }: LockAcquireOptions): Promise<LockLease> {
      const started = clock.now();
      const session = await openWithin(primitive, timeoutMs, clock);
      try {
        const { value: fence } = await pollForLock(() => session.tryLock(), {
          key: primitive.key,
          timeoutMs: Math.max(0, timeoutMs - (clock.now() - started)),
          signal,
          onWait,
          backoff: options.backoff,
          clock,
        });
        let released: Promise<void> | undefined;
        return {
          fence,
          waitedMs: clock.now() - started,
          lost: new AbortController().signal,
          release() {
            released ??= (async () => {
              try {
                if (!(await session.unlock())) {
                  throw new LockLostError(
                    primitive.key,
                    'the session did not hold it at release; if connections go through a transaction pooler (PgBouncer in transaction mode), use the lease strategy',
                  );
                }
              } finally {
                await session.close();
              }
            })();
            return released;
          },
        };
      } catch (error) {
        await session.close().catch(() => {});
        throw withWholeWait(error, started, clock);
      }
    },
  };
}

/** Opening the session counts toward the lock timeout: a pool with no free connection is a wait too. */
async function openWithin(primitive: SessionLockPrimitive, timeoutMs: number, clock: LockClock): Promise<LockSession> {
  const opening = primitive.open();
  let cancel = () => {};
  const timedOut = new Promise<never>((_, reject) => {
    cancel = clock.schedule(Math.max(0, timeoutMs), () =>
      reject(new LockTimeoutError(primitive.key, timeoutMs, { owner: 'no free database connection to wait on' })),
    );
  });
  try {
    return await Promise.race([opening, timedOut]);
  } catch (error) {
    // A session that opens after the deadline is closed, not leaked.
    opening.then((late) => late.close()).catch(() => {});
    throw error;
  } finally {
    cancel();
  }
}
