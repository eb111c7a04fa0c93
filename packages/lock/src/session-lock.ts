import { LockLostError, LockTimeoutError, type MigrationLock } from '@mig/core';
import {
  type BackoffOptions,
  type Clock,
  describeThrown,
  type LockAcquireOptions,
  type LockLease,
  type LockSession,
  lockLost,
  type SessionLockPrimitive,
  systemClock,
} from '@mig/core/adapter';
import { ATTEMPT_GRACE_MS, pollForLock, withWholeWait } from './poll.js';

export interface SessionLockOptions {
  readonly backoff?: BackoffOptions | undefined;
  readonly clock?: Clock | undefined;
}

/**
 * A lock held by a dedicated database session (a PostgreSQL session advisory lock): opens the session,
 * polls its try-lock with backoff, and on release unlocks and ends the session. If the holder dies, its
 * session ends and the database releases the lock by itself: no stale lock, no manual unlock.
 */
export function createSessionLock<F>(
  primitive: SessionLockPrimitive<F>,
  options: SessionLockOptions = {},
): MigrationLock<F> {
  const clock = options.clock ?? systemClock;
  return {
    strategy: primitive.strategy,
    key: primitive.key,
    // The lock lives in a database session, not in the store's tables: they are created under it.
    livesInStore: false,
    async acquire({ timeoutMs, signal, onWait, doneAtCount }: LockAcquireOptions): Promise<LockLease<F>> {
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
          holder: session.holder?.bind(session),
          waitForChange: session.waitForChange?.bind(session),
          doneAtCount,
        });
        let released: Promise<void> | undefined;
        const lost = new AbortController();
        return {
          fence,
          waitedMs: clock.now() - started,
          lost: lost.signal,
          // Never throws: a lock found lost at release is reported through `lost`, and the session ends anyway.
          release(reached) {
            released ??= (async () => {
              try {
                if (!(await session.unlock(reached))) {
                  const why =
                    'the session did not hold it at release; if connections go through a transaction pooler (PgBouncer in transaction mode), use the lease strategy';
                  lost.abort(lockLost.notHeldBySession(primitive.key, why));
                }
              } catch (error) {
                lost.abort(new LockLostError(primitive.key, `its session ended (${describeThrown(error)})`, 'lost'));
              } finally {
                await session.close().catch(() => {});
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

/**
 * Opening the session counts toward the lock timeout (a pool with no free connection, or a server with no
 * free connection slot, is a wait too), with the same grace as one attempt, so a timeout of 0 still makes its
 * one attempt. At the deadline the primitive is told to stop trying.
 */
async function openWithin<F>(
  primitive: SessionLockPrimitive<F>,
  timeoutMs: number,
  clock: Clock,
): Promise<LockSession<F>> {
  const giveUp = new AbortController();
  const opening = primitive.open(giveUp.signal);
  let cancel = () => {};
  const timedOut = new Promise<never>((_, reject) => {
    cancel = clock.schedule(Math.max(0, timeoutMs) + ATTEMPT_GRACE_MS, () => {
      giveUp.abort();
      reject(new LockTimeoutError(primitive.key, timeoutMs, { owner: 'no free database connection to wait on' }));
    });
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
