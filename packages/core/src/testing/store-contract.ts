import { describe, expect } from 'vitest';
import { MigErrorCode } from '../errors.js';
import { computeChecksum, EMPTY_DIGEST, EMPTY_HEAD, nextDigest } from '../migration.js';
import type { AppliedMigration } from '../ports.js';
import { assertMigError, caseRegistry, rejection, settle } from './cases.js';
import { withChecksum, withoutDown } from './migration-spec.js';
import { preparedHead, readPreparedHead, type StoreContext, storeContext } from './store-context.js';
import { STORE_CASES, type StoreContractHarness } from './store-harness.js';
import { inspectorCases } from './store-inspector-cases.js';
import { lockCases } from './store-lock-cases.js';

/**
 * The contract every {@link MigrationStore} must pass: the head and its compare-and-swap, apply and revert
 * (atomic for transactional migrations), the records in applied order, records written without running and
 * rewritten by a repair, binding to each lock's fence and refusing the fence of a lock released since, and,
 * where the store has an inspector, previews that write nothing. Call it at the top level of a test file;
 * each case opens its own fixture.
 *
 * A store is only half proven by this suite: its fence check is exercised with its locks here, but the
 * ways a lock can be lost (a lease that expires, a session lock taken away) are the lock suite's. Run
 * `describeLockContract` over each of the store's locks too.
 */
export function describeStoreContract<Db, F>(name: string, harness: StoreContractHarness<Db, F>): void {
  const test = caseRegistry(`describeStoreContract(${name})`, STORE_CASES, harness.expectedFailures);

  describe(`${name}: MigrationStore contract`, () => {
    const context = storeContext(harness, test);
    headAndPrepareCases(context);
    applyCases(context);
    applyFailureCases(context);
    nonTransactionalCases(context);
    revertCases(context);
    refusedRevertCases(context);
    recordCases(context);
    rewriteCases(context);
    lockCases(context);
    inspectorCases(context);
  });
}

/** The target, reads before prepare, and prepare. */
function headAndPrepareCases<Db, F>({ test, ok, effects, snapshot, applyOnHead }: StoreContext<Db, F>): void {
  test('names its target with non-empty strings and no credentials', ({ store }) => {
    const { target } = store;
    for (const key of ['system', 'namespace', 'server', 'table'] as const) {
      expect(typeof target[key], `target.${key}`).toBe('string');
      expect(target[key].length, `target.${key}`).toBeGreaterThan(0);
      expect(target[key], `target.${key}`).not.toMatch(/:\/\/|:[^/@]*@/);
    }
  });

  test('before prepare: readHead is null, readApplied is empty, and neither creates anything', async ({ store }) => {
    expect(await store.readApplied()).toEqual([]);
    expect(await store.readHead()).toBeNull();
    // Still null: neither read created the store's tables.
    expect(await store.readHead()).toBeNull();
    expect(await store.readApplied()).toEqual([]);
    expect(await effects()).toEqual([]);
  });

  test('prepare creates an empty history: count 0 and the empty digest', async ({ store }) => {
    await store.prepare();
    expect(await store.readHead()).toEqual(EMPTY_HEAD);
    expect(await store.readApplied()).toEqual([]);
  });

  test('prepare is idempotent and safe when called concurrently', async ({ store }) => {
    await Promise.all([store.prepare(), store.prepare(), store.prepare(), store.prepare()]);
    expect(await store.readHead()).toEqual(EMPTY_HEAD);
    const head = await applyOnHead(ok('c001_first'));
    const before = await snapshot();
    await Promise.all([store.prepare(), store.prepare()]);
    await store.prepare();
    expect(await snapshot()).toEqual(before);
    expect(before.head).toEqual(head);
  });
}

/** Apply: the nextDigest chain, the order of the records, and the checksums they keep. */
function applyCases<Db, F>({ test, ok, effects, applyOnHead }: StoreContext<Db, F>): void {
  test('apply runs up, records the migration and returns the new head (nextDigest chain)', async ({ store }) => {
    await store.prepare();
    const first = ok('c001_first');
    const second = ok('c002_second');
    const started = Date.now();
    const head1 = await store.apply(first, { expectedHead: EMPTY_HEAD });
    expect(head1).toEqual({ count: 1, digest: nextDigest(EMPTY_DIGEST, first.name, first.checksum) });
    expect(await store.readHead()).toEqual(head1);
    expect(await effects()).toEqual(['c001_first']);

    const head2 = await store.apply(second, { expectedHead: head1 });
    expect(head2).toEqual({ count: 2, digest: nextDigest(head1.digest, second.name, second.checksum) });
    expect(await store.readHead()).toEqual(head2);
    expect(await effects()).toEqual(['c001_first', 'c002_second']);

    const applied = await store.readApplied();
    expect(
      applied.map(({ name, checksum, digest, transactional }) => ({ name, checksum, digest, transactional })),
    ).toEqual([
      { name: first.name, checksum: first.checksum, digest: head1.digest, transactional: true },
      { name: second.name, checksum: second.checksum, digest: head2.digest, transactional: true },
    ]);
    for (const record of applied) expectPlausibleRecord(record, started);
  });

  test('readApplied lists records in the order applied, not by name', async ({ store }) => {
    await store.prepare();
    await applyOnHead(ok('c002_applied_first'));
    await applyOnHead(ok('c001_applied_second'));
    await applyOnHead(ok('c003_applied_third'));
    expect((await store.readApplied()).map((r) => r.name)).toEqual([
      'c002_applied_first',
      'c001_applied_second',
      'c003_applied_third',
    ]);
  });

  test('a record keeps the checksum it was applied with, so drift stays visible', async ({ store }) => {
    await store.prepare();
    const recorded = computeChecksum('c001_first as it was applied');
    const applied = withChecksum(ok('c001_first'), recorded);
    const head = await applyOnHead(applied);
    // The file changes afterwards: the store still answers with what it recorded, and never recomputes.
    const edited = withChecksum(applied, computeChecksum('c001_first as it is now'));
    expect(edited.checksum).not.toBe(recorded);
    const records = await store.readApplied();
    expect(records.map((r) => [r.name, r.checksum, r.digest])).toEqual([['c001_first', recorded, head.digest]]);
    expect(head.digest).toBe(nextDigest(EMPTY_DIGEST, 'c001_first', recorded));
    expect(await store.readHead()).toEqual(head);
  });
}

/** Applies that must not happen: on a stale head, the loser of a race, a migration that fails. */
function applyFailureCases<Db, F>({ test, ok, failing, effects, snapshot, applyOnHead }: StoreContext<Db, F>): void {
  test('apply on a stale expected head fails with CONFLICT, runs nothing and records nothing', async ({ store }) => {
    await store.prepare();
    const head = await applyOnHead(ok('c001_first'));
    const before = await snapshot();
    const late = ok('c002_late');
    const behind = await rejection(
      store.apply(late, { expectedHead: EMPTY_HEAD }),
      'apply on a head one migration behind',
    );
    assertMigError(behind, MigErrorCode.Conflict, 'apply on a head one migration behind');
    const forged = await rejection(
      store.apply(late, { expectedHead: { count: head.count, digest: computeChecksum('another history') } }),
      'apply on a head with the right count and another digest',
    );
    assertMigError(forged, MigErrorCode.Conflict, 'apply on a head with the right count and another digest');
    expect(await snapshot()).toEqual(before);
  });

  test('two applies racing on one head: exactly one is recorded, the other fails with CONFLICT', async ({ store }) => {
    await store.prepare();
    const head = await applyOnHead(ok('c001_first'));
    const results = await Promise.all([
      settle(store.apply(ok('c002_left'), { expectedHead: head })),
      settle(store.apply(ok('c003_right'), { expectedHead: head })),
    ]);
    const won = results.filter((r) => r.ok);
    const lost = results.flatMap((r) => (r.ok ? [] : [r.error]));
    expect(won, 'exactly one of the racing applies succeeds').toHaveLength(1);
    assertMigError(lost[0], MigErrorCode.Conflict, 'the apply that lost the race');
    const winner = results[0]?.ok ? 'c002_left' : 'c003_right';
    expect((await store.readApplied()).map((r) => r.name)).toEqual(['c001_first', winner]);
    expect(await effects()).toEqual(['c001_first', winner]);
    expect((await store.readHead())?.count).toBe(2);
  });

  test('a failing transactional migration leaves neither its effect nor its record', async ({ store }) => {
    await store.prepare();
    await applyOnHead(ok('c001_first'));
    const before = await snapshot();
    await rejection(
      store.apply(failing('c002_broken'), { expectedHead: await readPreparedHead(store) }),
      'a failing migration',
    );
    expect(await snapshot()).toEqual(before);
    // The failure left nothing behind that stops the next migration.
    await applyOnHead(ok('c003_after'));
    expect(await effects()).toEqual(['c001_first', 'c003_after']);
  });
}

/** Migrations that run outside a transaction: recorded only once they succeed, never on a stale head. */
function nonTransactionalCases<Db, F>(context: StoreContext<Db, F>): void {
  const { capabilities, test, ok, outside, effects, snapshot, applyOnHead } = context;
  test(
    'a non-transactional migration runs and is recorded after it succeeds',
    async ({ store }) => {
      await store.prepare();
      await applyOnHead(ok('c001_first'));
      const head = await applyOnHead(outside('c002_outside'));
      expect(await store.readHead()).toEqual(head);
      expect(await effects()).toEqual(['c001_first', 'c002_outside']);
      const records = await store.readApplied();
      expect(records.map((r) => [r.name, r.transactional, r.digest])).toEqual([
        ['c001_first', true, nextDigest(EMPTY_DIGEST, 'c001_first', ok('c001_first').checksum)],
        ['c002_outside', false, head.digest],
      ]);
    },
    { skip: !capabilities.nonTransactional },
  );

  test(
    'a failing non-transactional migration is not recorded, and the store stays usable',
    async ({ store }) => {
      await store.prepare();
      const head = await applyOnHead(ok('c001_first'));
      await rejection(store.apply(outside('c002_broken', true), { expectedHead: head }), 'a failing migration');
      // What it did before failing may remain (nothing could roll it back); its record may not.
      expect(await store.readHead()).toEqual(head);
      expect((await store.readApplied()).map((r) => r.name)).toEqual(['c001_first']);
      await applyOnHead(ok('c003_after'));
      expect((await store.readApplied()).map((r) => r.name)).toEqual(['c001_first', 'c003_after']);
    },
    { skip: !capabilities.nonTransactional },
  );

  test(
    'a non-transactional migration on a stale head fails with CONFLICT before it runs',
    async ({ store }) => {
      await store.prepare();
      await applyOnHead(ok('c001_first'));
      const before = await snapshot();
      const error = await rejection(
        store.apply(outside('c002_outside'), { expectedHead: EMPTY_HEAD }),
        'a non-transactional apply on a stale head',
      );
      assertMigError(error, MigErrorCode.Conflict, 'a non-transactional apply on a stale head');
      expect(await snapshot()).toEqual(before);
    },
    { skip: !capabilities.nonTransactional },
  );
}

/** Revert of the last migration, transactional or not, and of an older one. */
function revertCases<Db, F>(context: StoreContext<Db, F>): void {
  const { capabilities, test, ok, outside, effects, snapshot, applyOnHead } = context;
  test('revert runs down, removes the record and restores the previous head', async ({ store }) => {
    await store.prepare();
    const first = ok('c001_first');
    const second = ok('c002_second');
    const head1 = await applyOnHead(first);
    const records1 = await store.readApplied();
    const head2 = await applyOnHead(second);

    expect(await store.revert(second, { expectedHead: head2 })).toEqual(head1);
    expect(await store.readHead()).toEqual(head1);
    expect(await store.readApplied()).toEqual(records1);
    expect(await effects()).toEqual(['c001_first']);

    expect(await store.revert(first, { expectedHead: head1 })).toEqual(EMPTY_HEAD);
    expect(await store.readHead()).toEqual(EMPTY_HEAD);
    expect(await store.readApplied()).toEqual([]);
    expect(await effects()).toEqual([]);

    // The history can grow again from there.
    await applyOnHead(second);
    expect((await store.readApplied()).map((r) => r.name)).toEqual(['c002_second']);
  });

  test(
    'revert of a non-transactional migration runs down and removes the record',
    async ({ store }) => {
      await store.prepare();
      const head1 = await applyOnHead(ok('c001_first'));
      const m = outside('c002_outside');
      const head2 = await applyOnHead(m);
      expect(await store.revert(m, { expectedHead: head2 })).toEqual(head1);
      expect(await store.readHead()).toEqual(head1);
      expect((await store.readApplied()).map((r) => r.name)).toEqual(['c001_first']);
      expect(await effects()).toEqual(['c001_first']);
    },
    { skip: !capabilities.nonTransactional },
  );

  test('revert of an older migration fails with CONFLICT and changes nothing', async ({ store }) => {
    await store.prepare();
    const first = ok('c001_first');
    await applyOnHead(first);
    const head = await applyOnHead(ok('c002_second'));
    const before = await snapshot();
    const error = await rejection(store.revert(first, { expectedHead: head }), 'reverting the older migration');
    assertMigError(error, MigErrorCode.Conflict, 'reverting the older migration');
    expect(await snapshot()).toEqual(before);
  });
}

/** Reverts that must be refused before anything runs: never applied, older, stale head, no down. */
function refusedRevertCases<Db, F>(context: StoreContext<Db, F>): void {
  const { capabilities, test, ok, outside, snapshot, applyOnHead } = context;
  test('revert of a migration that was never applied fails with CONFLICT before its down runs', async ({ store }) => {
    await store.prepare();
    const head = await applyOnHead(ok('c001_first'));
    const before = await snapshot();
    // Its down would fail (its effect is not there): a store that runs it before checking fails otherwise.
    const error = await rejection(
      store.revert(ok('c002_never_applied'), { expectedHead: head }),
      'reverting a migration that was never applied',
    );
    assertMigError(error, MigErrorCode.Conflict, 'reverting a migration that was never applied');
    expect(await snapshot()).toEqual(before);
  });

  test(
    'revert of an older non-transactional migration fails with CONFLICT before its down runs',
    async ({ store }) => {
      await store.prepare();
      const older = outside('c001_outside');
      await applyOnHead(older);
      const head = await applyOnHead(ok('c002_second'));
      const before = await snapshot();
      // Outside a transaction nothing can undo a down that ran: the order must be checked before it runs.
      const error = await rejection(store.revert(older, { expectedHead: head }), 'reverting the older migration');
      assertMigError(error, MigErrorCode.Conflict, 'reverting the older migration');
      expect(await snapshot()).toEqual(before);
    },
    { skip: !capabilities.nonTransactional },
  );

  test('revert on a stale expected head fails with CONFLICT and changes nothing', async ({ store }) => {
    await store.prepare();
    const head1 = await applyOnHead(ok('c001_first'));
    const second = ok('c002_second');
    const head2 = await applyOnHead(second);
    const before = await snapshot();
    for (const stale of [head1, { count: head2.count, digest: computeChecksum('another history') }]) {
      const error = await rejection(store.revert(second, { expectedHead: stale }), 'revert on a stale head');
      assertMigError(error, MigErrorCode.Conflict, 'revert on a stale head');
    }
    expect(await snapshot()).toEqual(before);
  });

  test('revert of a migration without down fails with INVALID_TARGET and changes nothing', async ({ store }) => {
    await store.prepare();
    const m = ok('c001_first');
    const head = await applyOnHead(m);
    const before = await snapshot();
    const error = await rejection(store.revert(withoutDown(m), { expectedHead: head }), 'revert without a down');
    assertMigError(error, MigErrorCode.InvalidTarget, 'revert without a down');
    expect(await snapshot()).toEqual(before);
  });
}

/** Records written without running (adopt, baseline). */
function recordCases<Db, F>({ test, ok, effects, snapshot }: StoreContext<Db, F>): void {
  test('record writes migrations as applied without running them, with their origin, in one step on the head', async ({
    store,
  }) => {
    const [a, b] = [ok('c101_recorded'), ok('c102_recorded')];
    const head = await preparedHead(store);
    const next = await store.record([a, b], {
      expectedHead: head,
      origin: 'adopted',
      adoptedFrom: 'knex',
      runnable: false,
    });
    const expected = nextDigest(nextDigest(head.digest, a.name, a.checksum), b.name, b.checksum);
    expect(next).toEqual({ count: 2, digest: expected });
    expect(await store.readHead()).toEqual(next);
    expect(await effects()).toEqual([]); // nothing ran
    const applied = await store.readApplied();
    expect(applied.map((r) => [r.name, r.checksum, r.origin, r.adoptedFrom, r.runnable])).toEqual([
      [a.name, a.checksum, 'adopted', 'knex', false],
      [b.name, b.checksum, 'adopted', 'knex', false],
    ]);
    const c = ok('c103_baseline');
    await store.record([c], { expectedHead: next, origin: 'baseline', runnable: true });
    expect((await store.readApplied()).at(-1)).toMatchObject({
      name: c.name,
      origin: 'baseline',
      adoptedFrom: null,
      runnable: true,
      repairs: [],
    });
  });

  test('record on a stale expected head fails with CONFLICT and records nothing', async ({ store }) => {
    await preparedHead(store);
    const before = await snapshot();
    const stale = { count: 3, digest: EMPTY_DIGEST };
    const error = await rejection(
      store.record([ok('c111_stale')], { expectedHead: stale, origin: 'baseline', runnable: true }),
      'record on a stale head',
    );
    assertMigError(error, MigErrorCode.Conflict, 'record on a stale head');
    expect(await snapshot()).toEqual(before);
  });
}

/** Records rewritten by a repair. */
function rewriteCases<Db, F>({ test, ok, effects }: StoreContext<Db, F>): void {
  test('rewrite replaces checksums, keeps the old ones in repairs, and rebuilds the digest chain', async ({
    store,
  }) => {
    const [a, b] = [ok('c121_first'), ok('c122_edited')];
    let head = await preparedHead(store);
    head = await store.apply(a, { expectedHead: head });
    head = await store.apply(b, { expectedHead: head });
    const edited = computeChecksum('c122_edited, edited on purpose');
    const startedAt = Date.now();
    const next = await store.rewrite(
      { checksums: [{ name: b.name, checksum: edited }], forget: [] },
      { expectedHead: head },
    );
    const chain = nextDigest(nextDigest(EMPTY_DIGEST, a.name, a.checksum), b.name, edited);
    expect(next).toEqual({ count: 2, digest: chain });
    expect(await store.readHead()).toEqual(next);
    const [first, second] = await store.readApplied();
    expect(first).toMatchObject({ name: a.name, checksum: a.checksum, repairs: [] });
    expect(second).toMatchObject({ name: b.name, checksum: edited, digest: chain });
    expect(second?.repairs.map((r) => r.checksum)).toEqual([b.checksum]);
    expect(second?.repairs[0]?.at.getTime()).toBeGreaterThanOrEqual(startedAt - 5_000);
    expect(await effects()).toEqual([a.name, b.name].sort()); // nothing ran, nothing was undone
    const stale = await rejection(
      store.rewrite({ checksums: [], forget: [a.name] }, { expectedHead: head }),
      'rewrite on a stale head',
    );
    assertMigError(stale, MigErrorCode.Conflict, 'rewrite on a stale head');
  });

  test('rewrite forgets a record and rebuilds the head from the records left', async ({ store }) => {
    const [a, b, c] = [ok('c131_kept'), ok('c132_forgotten'), ok('c133_kept')];
    let head = await preparedHead(store);
    for (const m of [a, b, c]) head = await store.apply(m, { expectedHead: head });
    const next = await store.rewrite({ checksums: [], forget: [b.name] }, { expectedHead: head });
    const chain = nextDigest(nextDigest(EMPTY_DIGEST, a.name, a.checksum), c.name, c.checksum);
    expect(next).toEqual({ count: 2, digest: chain });
    const applied = await store.readApplied();
    expect(applied.map((r) => [r.name, r.digest])).toEqual([
      [a.name, nextDigest(EMPTY_DIGEST, a.name, a.checksum)],
      [c.name, chain],
    ]);
  });
}

function expectPlausibleRecord(record: AppliedMigration, startedAt: number): void {
  expect(record.appliedAt, `appliedAt of ${record.name}`).toBeInstanceOf(Date);
  const appliedAt = record.appliedAt.getTime();
  expect(Number.isFinite(appliedAt), `appliedAt of ${record.name} is a valid date`).toBe(true);
  // Generous: the database's clock may differ from this process's, but not by a day (a unit mistake would).
  expect(Math.abs(appliedAt - startedAt), `appliedAt of ${record.name} is about now`).toBeLessThan(86_400_000);
  if (record.durationMs !== null) {
    expect(Number.isFinite(record.durationMs) && record.durationMs >= 0, `durationMs of ${record.name}`).toBe(true);
  }
}
