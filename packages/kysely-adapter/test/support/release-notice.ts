import { AbortedError } from '@mig/core';
import type { LockWait } from '@mig/core/adapter';
import type { Kysely } from 'kysely';
import { expect } from 'vitest';
import { createKyselyAdapter } from '../../src/index.js';

/**
 * A waiting instance is told the head the holder left (NOTIFY on release), before it tries the lock again:
 * two instances, each a Kysely from `open` (mig's own dialect, which hears NOTIFY) named as given.
 */
export async function expectReleaseNotice(open: (applicationName: string) => Kysely<unknown>): Promise<void> {
  const [holderDb, waiterDb] = [open('holder'), open('waiter')];
  try {
    const lease = await createKyselyAdapter({ db: holderDb }).createLock().acquire({ timeoutMs: 5_000 });
    const waits: LockWait[] = [];
    const done = new AbortController();
    const waiting = createKyselyAdapter({ db: waiterDb })
      .createLock()
      .acquire({
        timeoutMs: 30_000,
        signal: done.signal,
        onWait: (wait) => {
          waits.push(wait);
          // What mig's migrator does when the head covers its work: it stops waiting, lock-free.
          if (wait.head?.count === 7) done.abort('applied by another instance');
        },
      })
      .catch((e: unknown) => e);
    // Released only once the waiter listens (a release before its LISTEN is met by the attempt it makes
    // right after, which would take the lock instead): its first failed attempt is followed by the LISTEN and
    // one more attempt, so a second reported wait comes after it listens. (Its session's last query in
    // pg_stat_activity is that attempt, not the LISTEN: it cannot tell.)
    for (let i = 0; i < 3_000 && waits.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(waits.at(-1)?.head).toBeUndefined();
    await lease.release({ count: 7, digest: 'a'.repeat(64) });
    const outcome = await waiting;
    // Had it taken the lock, its session would keep the pool from closing: let it go before failing.
    if (outcome && typeof (outcome as { release?: unknown }).release === 'function') {
      await (outcome as { release(): Promise<void> }).release();
    }
    expect(outcome).toBeInstanceOf(AbortedError);
    expect(waits.at(-1)?.head).toEqual({ count: 7, digest: 'a'.repeat(64) });
    // It never took the lock: nobody holds it now.
    expect(await createKyselyAdapter({ db: waiterDb }).advisoryHolder()).toBeNull();
  } finally {
    await Promise.all([holderDb.destroy(), waiterDb.destroy()]);
  }
}
