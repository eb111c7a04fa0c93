import { expect } from 'vitest';
import { MigErrorCode } from '../errors.js';
import type { StoreHead } from '../head.js';
import { computeChecksum, type Migration, nextDigest } from '../migration.js';
import type { MigrationStore } from '../ports.js';
import { assertMigError, type CaseControl, rejection } from './cases.js';
import { readPreparedHead, type StoreCaseState, type StoreContext } from './store-context.js';

// The store under each of its locks: bound to a held lock's fence it works; with the fence of a lock released
// since, every change fails with LOCK_LOST and changes nothing. Without the second half, a store that never
// checks its fence passes this suite, and only the lock suite (which can lose a lock on purpose) catches it.

/** A store bound to each lock's fence, and the fence of a lock released since, refused. */
export function lockCases<Db, F>(context: StoreContext<Db, F>): void {
  bindCase(context);
  releasedFenceCases(context);
}

function bindCase<Db, F>({ test, ok, effects }: StoreContext<Db, F>): void {
  test('bind(fence) returns a store that applies and reverts under each lock', async ({ fixture, store }) => {
    const names: string[] = [];
    for (const [index, lock] of fixture.locks.entries()) {
      const id = `c${String(index + 1).padStart(3, '0')}_bound`;
      // As the migrator does: a lock in the store's tables needs them first; another is taken first.
      if (lock.livesInStore) await store.prepare();
      const lease = await lock.acquire({ timeoutMs: 10_000 });
      try {
        const bound = store.bind(lease.fence);
        if (!lock.livesInStore) await bound.prepare();
        const head = await readPreparedHead(bound);
        const m = ok(id);
        const next = await bound.apply(m, { fence: lease.fence, expectedHead: head });
        expect(next).toEqual({ count: head.count + 1, digest: nextDigest(head.digest, m.name, m.checksum) });
        expect(await bound.readHead()).toEqual(next);
        expect((await bound.readApplied()).map((r) => r.name)).toEqual([...names, id]);
        expect(await bound.revert(m, { fence: lease.fence, expectedHead: next })).toEqual(head);
        await bound.apply(m, { fence: lease.fence, expectedHead: head });
        names.push(id);
      } finally {
        await lease.release();
      }
      // What was done under the lock is there for the unbound store too.
      expect((await store.readApplied()).map((r) => r.name)).toEqual(names);
    }
    expect(await effects()).toEqual(names);
  });
}

function releasedFenceCases<Db, F>(context: StoreContext<Db, F>): void {
  const { capabilities, test, ok, outside, snapshot } = context;
  const skip = capabilities.checksFences === false;

  test(
    'apply and revert with the fence of a released lock fail with LOCK_LOST and change nothing',
    (state, control) =>
      eachReleasedLock(state, control, context, async ({ bound, fence, head, held, name, lock }) => {
        const before = await snapshot();
        const late = await rejection(
          bound.apply(ok(name('late')), { fence, expectedHead: head }),
          `apply with the fence of a released lock (${lock})`,
        );
        assertMigError(late, MigErrorCode.LockLost, `apply with the fence of a released lock (${lock})`);
        if (capabilities.nonTransactional) {
          // Outside a transaction nothing could take it back: the fence must be checked before it runs.
          const outsideError = await rejection(
            bound.apply(outside(name('late_outside')), { fence, expectedHead: head }),
            `a non-transactional apply with the fence of a released lock (${lock})`,
          );
          assertMigError(
            outsideError,
            MigErrorCode.LockLost,
            `a non-transactional apply with the fence of a released lock (${lock})`,
          );
        }
        const revert = await rejection(
          bound.revert(held, { fence, expectedHead: head }),
          `revert with the fence of a released lock (${lock})`,
        );
        assertMigError(revert, MigErrorCode.LockLost, `revert with the fence of a released lock (${lock})`);
        expect(await snapshot()).toEqual(before);
      }),
    { skip },
  );

  test(
    'record and rewrite with the fence of a released lock fail with LOCK_LOST and record nothing',
    (state, control) =>
      eachReleasedLock(state, control, context, async ({ bound, fence, head, held, name, lock }) => {
        const before = await snapshot();
        const recorded = await rejection(
          bound.record([ok(name('recorded'))], { fence, expectedHead: head, origin: 'baseline', runnable: true }),
          `record with the fence of a released lock (${lock})`,
        );
        assertMigError(recorded, MigErrorCode.LockLost, `record with the fence of a released lock (${lock})`);
        const edited = { name: held.name, checksum: computeChecksum(`${held.name}, edited`) };
        for (const changes of [
          { checksums: [edited], forget: [] },
          { checksums: [], forget: [held.name] },
        ]) {
          const error = await rejection(
            bound.rewrite(changes, { fence, expectedHead: head }),
            `rewrite with the fence of a released lock (${lock})`,
          );
          assertMigError(error, MigErrorCode.LockLost, `rewrite with the fence of a released lock (${lock})`);
        }
        expect(await snapshot()).toEqual(before);
      }),
    { skip },
  );
}

/** A lock held, then released: the store bound to its now stale fence, and what was applied while it held. */
interface ReleasedLock<Db, F> {
  /** Which of the fixture's locks, for messages: "lease lock (locks[1])". */
  readonly lock: string;
  readonly bound: MigrationStore<Db, F>;
  readonly fence: F;
  /** The head after `held`: the head a change with the stale fence expects, so only the fence can refuse it. */
  readonly head: StoreHead;
  /** Applied under the lock while it was held. */
  readonly held: Migration<Db>;
  /** A contract migration name of this lock's own (`c101_…` for the first lock, `c201_…` for the second). */
  name(label: string): string;
}

/**
 * Takes each lock of the fixture in turn, applies a migration under it (its fence works while it is held),
 * releases it, and gives `check` the store bound to the fence it handed out, which proves nothing any more.
 * A released lock is the one way to make a fence stale that works for every lock without the harness's
 * help. A lock whose leases carry no fence (undefined: an in-process mutex, which nothing outside the process
 * can take away) has nothing to check and is passed over; when every lock is, the case reports a skip.
 */
async function eachReleasedLock<Db, F>(
  { fixture, store }: StoreCaseState<Db, F>,
  control: CaseControl,
  { ok }: StoreContext<Db, F>,
  check: (released: ReleasedLock<Db, F>) => Promise<void>,
): Promise<void> {
  let checked = 0;
  for (const [index, lock] of fixture.locks.entries()) {
    let serial = 100 * (index + 1);
    const name = (label: string) => `c${++serial}_${label}`;
    if (lock.livesInStore) await store.prepare();
    const lease = await lock.acquire({ timeoutMs: 10_000 });
    let released: Omit<ReleasedLock<Db, F>, 'name'> | undefined;
    try {
      const { fence } = lease;
      if (fence !== undefined) {
        const bound = store.bind(fence);
        if (!lock.livesInStore) await bound.prepare();
        const held = ok(name('held'));
        const head = await bound.apply(held, { fence, expectedHead: await readPreparedHead(bound) });
        released = { lock: `${lock.strategy} lock (locks[${index}])`, bound, fence, head, held };
      }
    } finally {
      await lease.release();
    }
    if (released === undefined) continue;
    await check({ ...released, name });
    checked++;
  }
  if (checked === 0) control.skip('no lock of this store hands out a fence (an in-process mutex): nothing to check');
}
