import type { LockHolder, LockSession, SessionLockPrimitive, StoreHead, TryLockResult } from '@mig/core/adapter';
import { deadOwnerPid } from '@mig/lock';
import type { MigrationDb } from './db.js';
import type { AdminLeasePrimitive, AdvisoryFence } from './fence.js';

// The two strategies of one store exclude each other, so instances configured differently (a CLI with the
// lease beside a service with the advisory lock) never both believe they hold the lock. Each one, once granted,
// looks whether the other is held, and if so lets go and reads as busy. Whichever looks second sees the
// first: a grant always comes before its look, so two looks cannot both come before the other's grant.

/** A lease holder, as an advisory waiter sees it: held by this owner, unless it died on this host. */
async function liveLeaseHolder(lease: Pick<AdminLeasePrimitive, 'holder'>): Promise<LockHolder | null> {
  const holder = await lease.holder();
  if (!holder?.owner || deadOwnerPid(holder.owner) !== undefined) return null;
  return { ...holder, owner: `${holder.owner} (holding the lease lock)` };
}

/** The lease, granted only while no session holds the store's advisory lock. */
export function leaseExcludingSession(
  lease: AdminLeasePrimitive,
  sessionHolder: () => Promise<LockHolder | null>,
): AdminLeasePrimitive {
  return {
    strategy: lease.strategy,
    key: lease.key,
    livesInStore: lease.livesInStore,
    async tryAcquire(owner, ttlMs) {
      const attempt = await lease.tryAcquire(owner, ttlMs);
      if (!attempt.acquired) return attempt;
      const other = await sessionHolder().catch(async (error: unknown) => {
        await lease.release(owner, attempt.value.token);
        throw error;
      });
      if (other === null) return attempt;
      await lease.release(owner, attempt.value.token);
      const described = other.owner ? `${other.owner} (holding the advisory lock)` : 'the advisory lock';
      return { acquired: false, holder: { ...other, owner: described } };
    },
    renew: (owner, token, ttlMs) => lease.renew(owner, token, ttlMs),
    release: (owner, token) => lease.release(owner, token),
    holder: () => lease.holder(),
    forceRelease: () => lease.forceRelease(),
  };
}

/** The advisory lock, kept only while nobody holds the store's lease. */
export function sessionExcludingLease(
  session: SessionLockPrimitive<AdvisoryFence>,
  /** The lease row read on the given connection: the session's own, so a pool of one connection is enough. */
  lease: (db: MigrationDb) => Pick<AdminLeasePrimitive, 'holder'>,
  isMissingTables: (error: unknown) => boolean,
): SessionLockPrimitive<AdvisoryFence> {
  return {
    strategy: session.strategy,
    key: session.key,
    async open(signal) {
      return new ExclusiveSession(await session.open(signal), lease, isMissingTables);
    },
  };
}

class ExclusiveSession implements LockSession<AdvisoryFence> {
  readonly #inner: LockSession<AdvisoryFence>;
  readonly #lease: (db: MigrationDb) => Pick<AdminLeasePrimitive, 'holder'>;
  readonly #isMissingTables: (error: unknown) => boolean;
  readonly holder?: () => Promise<LockHolder | null>;
  readonly waitForChange?: LockSession<AdvisoryFence>['waitForChange'];

  constructor(
    inner: LockSession<AdvisoryFence>,
    lease: (db: MigrationDb) => Pick<AdminLeasePrimitive, 'holder'>,
    isMissingTables: (e: unknown) => boolean,
  ) {
    this.#inner = inner;
    this.#lease = lease;
    this.#isMissingTables = isMissingTables;
    if (inner.holder) this.holder = () => inner.holder?.() ?? Promise.resolve(null);
    if (inner.waitForChange) this.waitForChange = inner.waitForChange.bind(inner);
  }

  async tryLock(): Promise<TryLockResult<AdvisoryFence>> {
    const attempt = await this.#inner.tryLock();
    if (!attempt.acquired) return attempt;
    const other = await this.#leaseHolder(attempt.value.db).catch(async (error: unknown) => {
      await this.#inner.unlock();
      throw error;
    });
    if (other === null) return attempt;
    await this.#inner.unlock();
    return { acquired: false, holder: other };
  }

  /** The live lease holder; none when mig's tables do not exist yet (nothing was ever leased). */
  async #leaseHolder(db: MigrationDb): Promise<LockHolder | null> {
    try {
      return await liveLeaseHolder(this.#lease(db));
    } catch (error) {
      if (this.#isMissingTables(error)) return null;
      throw error;
    }
  }

  unlock(reached?: StoreHead): Promise<boolean> {
    return this.#inner.unlock(reached);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
