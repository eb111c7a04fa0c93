import { afterEach, beforeEach, describe, expect } from 'vitest';
import { MigErrorCode } from '../errors.js';
import type { StoreHead } from '../head.js';
import type { Migration } from '../migration.js';
import type { LockLease, LockWait, MigrationLock, MigrationStore } from '../ports.js';
import { assertMigError, caseRegistry, rejection, sleep, tracked } from './cases.js';
import { type BuildMigration, buildContractMigration, sortedEffects } from './migration-spec.js';

/** A fresh lock key (and database, for a database lock): one per test case. */
export interface LockFixture<F, Db = unknown> {
  /**
   * A new, independent instance of the lock on the fixture's key, as another process would build it: for
   * a database lock, on its own connections (its own pool), so that the database, not an in-process
   * queue, keeps two instances apart. For an in-process lock, another caller in this process.
   */
  createLock(): MigrationLock<F>;
  /**
   * How to lose a lease on purpose, and a store that checks the lock's fences. Required when the harness
   * declares `capabilities.losesLock`.
   */
  readonly fencing?: LockFencing<F, Db> | undefined;
  /** Ends every connection the fixture and its locks opened, and drops the database. */
  close(): Promise<void>;
}

/** How to lose a held lock on purpose, and a store on the same database that checks the lock's fences. */
export interface LockFencing<F, Db> {
  /** A store on the fixture's database whose fences are this lock's. */
  readonly store: MigrationStore<Db, F>;
  readonly migration: BuildMigration<Db>;
  /** Names of the contract migrations whose effect is visible now (see `StoreFixture.effects`). */
  effects(): Promise<readonly string[]>;
  /**
   * Makes the lease lose its lock the way it can happen in production, leaving its holder running: a lease
   * row that expires, a session lock released behind the holder's back (what a transaction pooler does).
   */
  loseLock(lease: LockLease<F>): Promise<void>;
}

/** What a lock strategy can do; a case that needs more is skipped (and shown as skipped). */
export interface LockCapabilities {
  /** A waiter that times out gets a `LockTimeoutError` whose `holder` has an owner or a pid. */
  readonly namesHolder: boolean;
  /** The lock polls, and calls `onWait` after every failed attempt. */
  readonly reportsWaits: boolean;
  /**
   * A held lock can be lost while its holder runs on (a lease that expires, a session lock released by a
   * pooler), and a store checks its fence: the fixture provides `fencing`. False for an in-process mutex,
   * whose fence is nothing and which nobody can take away.
   */
  readonly losesLock: boolean;
}

/**
 * How {@link describeLockContract} drives a lock implementation.
 *
 * @example
 * describeLockContract('advisory lock on PostgreSQL', {
 *   // losesLock: true adds the fencing cases; the fixture then provides `fencing` (see {@link LockFencing}).
 *   capabilities: { namesHolder: true, reportsWaits: true, losesLock: false },
 *   async open() {
 *     const database = await createTestDatabase();
 *     const instances: Kysely<any>[] = [];
 *     return {
 *       createLock() {
 *         const db = new Kysely<any>({ dialect: createPgDialect({ url: database.url, max: 2 }) });
 *         instances.push(db);
 *         return createKyselyAdapter({ db }).createLock({ strategy: 'advisory' });
 *       },
 *       async close() {
 *         await Promise.all(instances.map((db) => db.destroy()));
 *         await database.drop();
 *       },
 *     };
 *   },
 * });
 */
export interface LockContractHarness<F, Db = unknown> {
  readonly capabilities: LockCapabilities;
  /** A fresh key (and database) for one case, ready for the lock: a lock in the store's tables finds them made. */
  open(): Promise<LockFixture<F, Db>>;
  /**
   * Titles of cases this implementation is known to fail, each tracked as a bug. They run as `it.fails`, so
   * the suite turns red once the bug is fixed and the entry must be removed.
   */
  readonly expectedFailures?: readonly LockCase[] | undefined;
}

/** The cases of {@link describeLockContract}, by title. */
export const LOCK_CASES = [
  'names itself: strategy and key are non-empty strings, livesInStore is a boolean',
  'acquire grants a lease; after release another instance acquires it',
  'a free lock is granted with timeoutMs 0',
  'two instances never hold the lock at once',
  'a waiter gets the lock once the holder releases it',
  'a wait that times out fails with LOCK_TIMEOUT within a bound and leaves nothing held',
  'a timeout names the holder',
  'a waiter reports each failed attempt through onWait',
  'an aborted signal stops the wait with ABORTED',
  'a signal aborted before the call stops a wait for a busy lock at once',
  'release is idempotent: a second release frees nothing more',
  'a store rejects the fence of a lost lock with LOCK_LOST and records nothing',
  'release after the lock was lost resolves and leaves a later holder alone',
] as const;

/** The title of one case, e.g. for `expectedFailures`. */
export type LockCase = (typeof LOCK_CASES)[number];

/** Slack on top of a timeout before a wait counts as unbounded: an attempt in flight may finish first. */
const TIMEOUT_SLACK_MS = 5_000;

/**
 * The contract every {@link MigrationLock} must pass: mutual exclusion between independent instances,
 * release (idempotent) and hand-over to a waiter, bounded waits that end with LOCK_TIMEOUT or ABORTED, and,
 * where the harness can lose a lock, a store that rejects the lost lock's fence. Call it at the top level of
 * a test file; each case opens its own fixture and releases what it took.
 */
export function describeLockContract<F, Db = unknown>(name: string, harness: LockContractHarness<F, Db>): void {
  const test = caseRegistry(`describeLockContract(${name})`, LOCK_CASES, harness.expectedFailures);

  describe(`${name}: MigrationLock contract`, () => {
    const context = lockContext(harness, test);
    acquireCases(context);
    waitCases(context);
    waitReportAndAbortCases(context);
    releaseCases(context);
    lostLockCases(context);
  });
}

/** A wait started in the background (see {@link LockContext.waitFor}). */
type Waiting<F> = ReturnType<typeof tracked<LockLease<F>>>;

/** What the groups of cases share: the harness's capabilities, and helpers over the running case's fixture. */
interface LockContext<F, Db> {
  readonly capabilities: LockCapabilities;
  /** Registers a case; `run` gets the fixture opened for it. */
  test(
    title: LockCase,
    run: (state: { readonly fixture: LockFixture<F, Db> }) => Promise<void> | void,
    options?: { readonly skip?: boolean },
  ): void;
  /** Acquires; the lease is released after the case, whatever happens. */
  acquire(lock: MigrationLock<F>, timeoutMs?: number): Promise<LockLease<F>>;
  /** Starts a wait in the background; the lease, once granted, is released after the case like the others. */
  waitFor(lock: MigrationLock<F>, timeoutMs?: number): Waiting<F>;
  /** The fixture's `fencing`, which `capabilities.losesLock` requires. */
  fencing(): LockFencing<F, Db>;
}

/** Opens a fixture before each case, and releases its leases and closes it after; call inside the `describe`. */
function lockContext<F, Db>(
  harness: LockContractHarness<F, Db>,
  register: ReturnType<typeof caseRegistry<LockCase>>,
): LockContext<F, Db> {
  let fixture: LockFixture<F, Db>;
  let leases: LockLease<F>[];
  beforeEach(async () => {
    fixture = await harness.open();
    leases = [];
  });
  afterEach(async () => {
    // A case that failed half-way must not leave a lock held (or a heartbeat running) behind it.
    await Promise.all(leases.map((lease) => lease.release().catch(() => {})));
    await fixture.close();
  });

  return {
    capabilities: harness.capabilities,
    test: (title, run, options) => register(title, () => run({ fixture }), options),
    acquire: async (lock, timeoutMs = 10_000) => {
      const lease = await lock.acquire({ timeoutMs });
      leases.push(lease);
      return lease;
    },
    waitFor: (lock, timeoutMs = 20_000) => {
      const waiting = tracked(
        lock.acquire({ timeoutMs }).then((lease) => {
          leases.push(lease);
          return lease;
        }),
      );
      waiting.promise.catch(() => {});
      return waiting;
    },
    fencing: () => {
      const found = fixture.fencing;
      if (!found) throw new Error('capabilities.losesLock is true, but the fixture provides no `fencing`');
      return found;
    },
  };
}

/** Naming, acquire and release between instances, and mutual exclusion. */
function acquireCases<F, Db>({ test, acquire }: LockContext<F, Db>): void {
  test('names itself: strategy and key are non-empty strings, livesInStore is a boolean', ({ fixture }) => {
    const a = fixture.createLock();
    const b = fixture.createLock();
    for (const lock of [a, b]) {
      expect(typeof lock.strategy).toBe('string');
      expect(lock.strategy.length).toBeGreaterThan(0);
      expect(typeof lock.key).toBe('string');
      expect(lock.key.length).toBeGreaterThan(0);
      expect(typeof lock.livesInStore).toBe('boolean');
    }
    expect([b.strategy, b.key, b.livesInStore]).toEqual([a.strategy, a.key, a.livesInStore]);
  });

  test('acquire grants a lease; after release another instance acquires it', async ({ fixture }) => {
    const a = fixture.createLock();
    const b = fixture.createLock();
    const lease = await acquire(a);
    expect(Number.isFinite(lease.waitedMs) && lease.waitedMs >= 0, 'waitedMs is a duration').toBe(true);
    expect(lease.lost).toBeInstanceOf(AbortSignal);
    expect(lease.lost.aborted).toBe(false);
    await lease.release();
    const next = await acquire(b);
    await next.release();
    // And the first instance can take it again.
    const again = await acquire(a);
    await again.release();
  });

  test('a free lock is granted with timeoutMs 0', async ({ fixture }) => {
    const lease = await acquire(fixture.createLock(), 0);
    await lease.release();
  });

  test('two instances never hold the lock at once', async ({ fixture }) => {
    const instances = [fixture.createLock(), fixture.createLock(), fixture.createLock()];
    let inside = 0;
    let most = 0;
    let entries = 0;
    await Promise.all(
      instances.map(async (lock) => {
        for (let round = 0; round < 3; round++) {
          const lease = await acquire(lock, 30_000);
          try {
            inside++;
            entries++;
            most = Math.max(most, inside);
            await sleep(15);
          } finally {
            inside--;
            await lease.release();
          }
        }
      }),
    );
    expect(entries).toBe(9);
    expect(most, 'holders at once').toBe(1);
  });
}

/** Waiting for a held lock: the hand-over on release, and a timeout that names the holder. */
function waitCases<F, Db>({ capabilities, test, acquire, waitFor }: LockContext<F, Db>): void {
  test('a waiter gets the lock once the holder releases it', async ({ fixture }) => {
    const holder = await acquire(fixture.createLock());
    const waiter = waitFor(fixture.createLock());
    await sleep(300);
    expect(waiter.settled, 'the waiter is still waiting while the lock is held').toBe(false);
    await holder.release();
    const lease = await waiter.promise;
    expect(lease.waitedMs).toBeGreaterThanOrEqual(250);
    await lease.release();
  });

  test('a wait that times out fails with LOCK_TIMEOUT within a bound and leaves nothing held', async ({ fixture }) => {
    const holder = await acquire(fixture.createLock());
    const waiter = fixture.createLock();
    const timeoutMs = 400;
    const started = performance.now();
    const error = await rejection(waiter.acquire({ timeoutMs }), 'a wait for a held lock');
    const elapsed = performance.now() - started;
    assertMigError(error, MigErrorCode.LockTimeout, 'a wait for a held lock');
    expect(elapsed, 'it waited the timeout').toBeGreaterThanOrEqual(timeoutMs - 25);
    expect(elapsed, 'and not much longer').toBeLessThan(timeoutMs + TIMEOUT_SLACK_MS);
    const { waitedMs } = error as { waitedMs?: unknown };
    expect(typeof waitedMs === 'number' && waitedMs >= timeoutMs - 25, 'waitedMs is the whole wait').toBe(true);
    // The waiter that gave up holds nothing: once the holder releases, a third instance gets the lock,
    // and so does the waiter itself.
    await holder.release();
    const third = await acquire(fixture.createLock(), 5_000);
    await third.release();
    const late = await acquire(waiter, 5_000);
    await late.release();
  });

  test(
    'a timeout names the holder',
    async ({ fixture }) => {
      await acquire(fixture.createLock());
      const error = await rejection(fixture.createLock().acquire({ timeoutMs: 300 }), 'a wait for a held lock');
      assertMigError(error, MigErrorCode.LockTimeout, 'a wait for a held lock');
      const { holder } = error as { holder?: { owner?: unknown; pid?: unknown } | null };
      expect(holder, 'LockTimeoutError.holder').toBeTruthy();
      expect(
        typeof holder?.owner === 'string' || typeof holder?.pid === 'number',
        'the holder has an owner or a pid',
      ).toBe(true);
      expect((error as Error).message).not.toContain('an unknown holder');
    },
    { skip: !capabilities.namesHolder },
  );
}

/** A wait that reports its failed attempts, and a wait stopped by its signal. */
function waitReportAndAbortCases<F, Db>({ capabilities, test, acquire }: LockContext<F, Db>): void {
  test(
    'a waiter reports each failed attempt through onWait',
    async ({ fixture }) => {
      await acquire(fixture.createLock());
      const waits: LockWait[] = [];
      const error = await rejection(
        fixture.createLock().acquire({ timeoutMs: 600, onWait: (wait) => waits.push(wait) }),
        'a wait for a held lock',
      );
      assertMigError(error, MigErrorCode.LockTimeout, 'a wait for a held lock');
      expect(waits.length, 'failed attempts reported').toBeGreaterThanOrEqual(2);
      expect(waits.map((w) => w.attempt)).toEqual(waits.map((_, index) => index + 1));
      for (const [index, wait] of waits.entries()) {
        expect(wait.waitedMs).toBeGreaterThanOrEqual(index === 0 ? 0 : (waits[index - 1]?.waitedMs ?? 0));
        if (capabilities.namesHolder) expect(wait.holder, `holder in wait ${wait.attempt}`).toBeTruthy();
      }
    },
    { skip: !capabilities.reportsWaits },
  );

  test('an aborted signal stops the wait with ABORTED', async ({ fixture }) => {
    const holder = await acquire(fixture.createLock());
    const waiter = fixture.createLock();
    const controller = new AbortController();
    const started = performance.now();
    const waiting = waiter.acquire({ timeoutMs: 20_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('shutting down')), 150);
    const error = await rejection(waiting, 'an aborted wait');
    assertMigError(error, MigErrorCode.Aborted, 'an aborted wait');
    expect(performance.now() - started, 'it stopped soon after the abort').toBeLessThan(150 + TIMEOUT_SLACK_MS);
    await holder.release();
    const lease = await acquire(waiter, 5_000);
    await lease.release();
  });

  test('a signal aborted before the call stops a wait for a busy lock at once', async ({ fixture }) => {
    await acquire(fixture.createLock());
    const started = performance.now();
    const error = await rejection(
      fixture.createLock().acquire({ timeoutMs: 20_000, signal: AbortSignal.abort(new Error('too late')) }),
      'a wait with an aborted signal',
    );
    assertMigError(error, MigErrorCode.Aborted, 'a wait with an aborted signal');
    expect(performance.now() - started).toBeLessThan(TIMEOUT_SLACK_MS);
  });
}

/** A release repeated, or raced with itself, frees the lock once. */
function releaseCases<F, Db>({ test, acquire, waitFor }: LockContext<F, Db>): void {
  test('release is idempotent: a second release frees nothing more', async ({ fixture }) => {
    const holder = await acquire(fixture.createLock());
    const first = waitFor(fixture.createLock());
    const second = waitFor(fixture.createLock());
    await sleep(200);
    await Promise.all([holder.release(), holder.release()]);
    await holder.release();
    // One waiter gets the lock; the repeated releases must not let the other in as well.
    const winner = await Promise.race([first.promise, second.promise]);
    await sleep(600);
    expect([first.settled, second.settled].filter(Boolean), 'waiters granted').toHaveLength(1);
    await winner.release();
    await winner.release();
    const other = first.settled ? second : first;
    const next = await other.promise;
    await next.release();
  });
}

/** A lock lost while its holder runs on: its fence is refused, and its release takes nothing from the next. */
function lostLockCases<F, Db>({ capabilities, test, acquire, fencing }: LockContext<F, Db>): void {
  test(
    'a store rejects the fence of a lost lock with LOCK_LOST and records nothing',
    async ({ fixture }) => {
      const { store, migration, effects, loseLock } = fencing();
      const ok = (id: string): Migration<Db> =>
        buildContractMigration(migration, { name: id, transactional: true, fails: false });
      await store.prepare();
      const lease = await acquire(fixture.createLock());
      const bound = store.bind(lease.fence);
      const head = await readHead(bound);
      // The fence works while the lock is held...
      const held = await bound.apply(ok('c001_while_held'), { fence: lease.fence, expectedHead: head });
      await loseLock(lease);
      // ...and not once it is lost, also when another instance has taken the lock since.
      const other = await acquire(fixture.createLock(), 10_000);
      const error = await rejection(
        bound.apply(ok('c002_after_loss'), { fence: lease.fence, expectedHead: held }),
        'apply with the fence of a lost lock',
      );
      assertMigError(error, MigErrorCode.LockLost, 'apply with the fence of a lost lock');
      expect((await store.readApplied()).map((r) => r.name)).toEqual(['c001_while_held']);
      expect(await store.readHead()).toEqual(held);
      expect(await sortedEffects(effects)).toEqual(['c001_while_held']);
      await other.release();
    },
    { skip: !capabilities.losesLock },
  );

  test(
    'release after the lock was lost resolves and leaves a later holder alone',
    async ({ fixture }) => {
      const { store, loseLock } = fencing();
      await store.prepare();
      const lease = await acquire(fixture.createLock());
      await loseLock(lease);
      const later = await acquire(fixture.createLock(), 10_000);
      await lease.release();
      await lease.release();
      // The lost lease's release took nothing from the instance that holds the lock now.
      const error = await rejection(fixture.createLock().acquire({ timeoutMs: 300 }), 'a wait for a held lock');
      assertMigError(error, MigErrorCode.LockTimeout, 'a wait for a held lock');
      await later.release();
      const next = await acquire(fixture.createLock(), 10_000);
      await next.release();
    },
    { skip: !capabilities.losesLock },
  );
}

async function readHead<Db, F>(store: MigrationStore<Db, F>): Promise<StoreHead> {
  const head = await store.readHead();
  if (head === null) throw new Error('readHead() is null after prepare()');
  return head;
}
