import { afterEach, beforeEach, describe, expect } from 'vitest';
import { MigErrorCode } from '../errors.js';
import { computeChecksum, EMPTY_DIGEST, type Migration, nextDigest } from '../migration.js';
import type { AppliedMigration, MigrationLock, MigrationStore, StoreHead } from '../ports.js';
import { assertMigError, caseRegistry, rejection, settle } from './cases.js';
import { type BuildMigration, sortedEffects, withChecksum, withoutDown } from './migration-spec.js';

/** A fresh, empty database with the store under test on it: one per test case. */
export interface StoreFixture<Db, F> {
  /** The store under test. Its tables must not exist yet: the suite calls `prepare` itself. */
  readonly store: MigrationStore<Db, F>;
  /**
   * Every lock that works with this store (at least one). The suite takes each, binds the store to its
   * fence and applies under it, as the migrator does.
   */
  readonly locks: readonly [MigrationLock<F>, ...MigrationLock<F>[]];
  /** Names of the contract migrations whose effect is visible in the database now, in any order. */
  effects(): Promise<readonly string[]>;
  /** Drops the database and ends every connection the fixture opened. */
  close(): Promise<void>;
}

/** What a store can do; a case that needs more than the store has is skipped (and shown as skipped). */
export interface StoreCapabilities {
  /** Runs modules marked non-transactional (outside a transaction), recording them after they succeed. */
  readonly nonTransactional: boolean;
  /** `preview` returns the SQL of the migrations the harness builds, rather than undefined. */
  readonly previewsSql: boolean;
}

/**
 * How {@link describeStoreContract} drives a store implementation.
 *
 * @example
 * describeStoreContract('kysely store on PostgreSQL', {
 *   capabilities: { nonTransactional: true, previewsSql: true },
 *   async open() {
 *     const database = await createTestDatabase();
 *     const adapter = createKyselyAdapter({ db: database.db });
 *     return {
 *       store: adapter.store,
 *       locks: [adapter.createLock()],
 *       effects: () => listTables(database.db, /^c\d{3}_/),
 *       close: () => database.drop(),
 *     };
 *   },
 *   migration: ({ name, transactional, fails }) => ({
 *     name,
 *     checksum: computeChecksum(name),
 *     origin: 'contract',
 *     load: async () => ({
 *       transactional,
 *       async up(db) {
 *         await sql`create table ${sql.id(name)} (id int)`.execute(db);
 *         if (fails) throw new Error(`${name} fails on purpose`);
 *       },
 *       async down(db) {
 *         await sql`drop table ${sql.id(name)}`.execute(db);
 *       },
 *     }),
 *   }),
 * });
 */
export interface StoreContractHarness<Db, F> {
  readonly capabilities: StoreCapabilities;
  /** A fresh database and a store on it, for one case; closed after the case. */
  open(): Promise<StoreFixture<Db, F>>;
  /** Builds a migration for this engine (see {@link MigrationSpec}). Checksums must differ between names. */
  readonly migration: BuildMigration<Db>;
  /**
   * Titles of cases this implementation is known to fail, each tracked as a bug. They run as `it.fails`, so
   * the suite turns red once the bug is fixed and the entry must be removed.
   */
  readonly expectedFailures?: readonly StoreCase[] | undefined;
}

/** The cases of {@link describeStoreContract}, by title. */
export const STORE_CASES = [
  'names its target with non-empty strings and no credentials',
  'before prepare: readHead is null, readApplied is empty, and neither creates anything',
  'prepare creates an empty history: count 0 and the empty digest',
  'prepare is idempotent and safe when called concurrently',
  'apply runs up, records the migration and returns the new head (nextDigest chain)',
  'readApplied lists records in the order applied, not by name',
  'a record keeps the checksum it was applied with, so drift stays visible',
  'apply on a stale expected head fails with CONFLICT, runs nothing and records nothing',
  'two applies racing on one head: exactly one is recorded, the other fails with CONFLICT',
  'a failing transactional migration leaves neither its effect nor its record',
  'a non-transactional migration runs and is recorded after it succeeds',
  'a failing non-transactional migration is not recorded, and the store stays usable',
  'a non-transactional migration on a stale head fails with CONFLICT before it runs',
  'revert runs down, removes the record and restores the previous head',
  'revert of a non-transactional migration runs down and removes the record',
  'revert of an older migration fails with CONFLICT and changes nothing',
  'revert of a migration that was never applied fails with CONFLICT before its down runs',
  'revert of an older non-transactional migration fails with CONFLICT before its down runs',
  'revert on a stale expected head fails with CONFLICT and changes nothing',
  'revert of a migration without down fails with INVALID_TARGET and changes nothing',
  "preview returns SQL (or undefined) and writes nothing, not even the store's tables",
  'bind(fence) returns a store that applies and reverts under each lock',
] as const;

/** The title of one case, e.g. for `expectedFailures`. */
export type StoreCase = (typeof STORE_CASES)[number];

/**
 * The contract every {@link MigrationStore} must pass: the head and its compare-and-swap, apply and revert
 * (atomic for transactional migrations), the records in applied order, previews that write nothing, and
 * binding to a lock's fence. Call it at the top level of a test file; each case opens its own fixture.
 */
export function describeStoreContract<Db, F>(name: string, harness: StoreContractHarness<Db, F>): void {
  const { capabilities } = harness;
  const test = caseRegistry(`describeStoreContract(${name})`, STORE_CASES, harness.expectedFailures);

  describe(`${name}: MigrationStore contract`, () => {
    let fixture: StoreFixture<Db, F>;
    let store: MigrationStore<Db, F>;
    beforeEach(async () => {
      fixture = await harness.open();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.close();
    });

    const ok = (id: string) => harness.migration({ name: id, transactional: true, fails: false });
    const failing = (id: string) => harness.migration({ name: id, transactional: true, fails: true });
    const outside = (id: string, fails = false) => harness.migration({ name: id, transactional: false, fails });
    const effects = () => sortedEffects(fixture.effects);
    /** Everything a caller can observe of the store and the database. */
    const snapshot = async () => ({
      head: await store.readHead(),
      applied: await store.readApplied(),
      effects: await effects(),
    });
    /** Applies on the current head and checks the head it returns. */
    const applyOnHead = async (m: Migration<Db>): Promise<StoreHead> => {
      const head = await readPreparedHead(store);
      const next = await store.apply(m, { expectedHead: head });
      expect(next).toEqual({ count: head.count + 1, digest: nextDigest(head.digest, m.name, m.checksum) });
      return next;
    };

    test('names its target with non-empty strings and no credentials', () => {
      const { target } = store;
      for (const key of ['system', 'namespace', 'server', 'table'] as const) {
        expect(typeof target[key], `target.${key}`).toBe('string');
        expect(target[key].length, `target.${key}`).toBeGreaterThan(0);
        expect(target[key], `target.${key}`).not.toMatch(/:\/\/|:[^/@]*@/);
      }
    });

    test('before prepare: readHead is null, readApplied is empty, and neither creates anything', async () => {
      expect(await store.readApplied()).toEqual([]);
      expect(await store.readHead()).toBeNull();
      // Still null: neither read created the store's tables.
      expect(await store.readHead()).toBeNull();
      expect(await store.readApplied()).toEqual([]);
      expect(await effects()).toEqual([]);
    });

    test('prepare creates an empty history: count 0 and the empty digest', async () => {
      await store.prepare();
      expect(await store.readHead()).toEqual({ count: 0, digest: EMPTY_DIGEST });
      expect(await store.readApplied()).toEqual([]);
    });

    test('prepare is idempotent and safe when called concurrently', async () => {
      await Promise.all([store.prepare(), store.prepare(), store.prepare(), store.prepare()]);
      expect(await store.readHead()).toEqual({ count: 0, digest: EMPTY_DIGEST });
      const head = await applyOnHead(ok('c001_first'));
      const before = await snapshot();
      await Promise.all([store.prepare(), store.prepare()]);
      await store.prepare();
      expect(await snapshot()).toEqual(before);
      expect(before.head).toEqual(head);
    });

    test('apply runs up, records the migration and returns the new head (nextDigest chain)', async () => {
      await store.prepare();
      const first = ok('c001_first');
      const second = ok('c002_second');
      const started = Date.now();
      const head1 = await store.apply(first, { expectedHead: { count: 0, digest: EMPTY_DIGEST } });
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

    test('readApplied lists records in the order applied, not by name', async () => {
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

    test('a record keeps the checksum it was applied with, so drift stays visible', async () => {
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

    test('apply on a stale expected head fails with CONFLICT, runs nothing and records nothing', async () => {
      await store.prepare();
      const head = await applyOnHead(ok('c001_first'));
      const before = await snapshot();
      const late = ok('c002_late');
      const behind = await rejection(
        store.apply(late, { expectedHead: { count: 0, digest: EMPTY_DIGEST } }),
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

    test('two applies racing on one head: exactly one is recorded, the other fails with CONFLICT', async () => {
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

    test('a failing transactional migration leaves neither its effect nor its record', async () => {
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

    test(
      'a non-transactional migration runs and is recorded after it succeeds',
      async () => {
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
      async () => {
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
      async () => {
        await store.prepare();
        await applyOnHead(ok('c001_first'));
        const before = await snapshot();
        const error = await rejection(
          store.apply(outside('c002_outside'), { expectedHead: { count: 0, digest: EMPTY_DIGEST } }),
          'a non-transactional apply on a stale head',
        );
        assertMigError(error, MigErrorCode.Conflict, 'a non-transactional apply on a stale head');
        expect(await snapshot()).toEqual(before);
      },
      { skip: !capabilities.nonTransactional },
    );

    test('revert runs down, removes the record and restores the previous head', async () => {
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

      expect(await store.revert(first, { expectedHead: head1 })).toEqual({ count: 0, digest: EMPTY_DIGEST });
      expect(await store.readHead()).toEqual({ count: 0, digest: EMPTY_DIGEST });
      expect(await store.readApplied()).toEqual([]);
      expect(await effects()).toEqual([]);

      // The history can grow again from there.
      await applyOnHead(second);
      expect((await store.readApplied()).map((r) => r.name)).toEqual(['c002_second']);
    });

    test(
      'revert of a non-transactional migration runs down and removes the record',
      async () => {
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

    test('revert of an older migration fails with CONFLICT and changes nothing', async () => {
      await store.prepare();
      const first = ok('c001_first');
      await applyOnHead(first);
      const head = await applyOnHead(ok('c002_second'));
      const before = await snapshot();
      const error = await rejection(store.revert(first, { expectedHead: head }), 'reverting the older migration');
      assertMigError(error, MigErrorCode.Conflict, 'reverting the older migration');
      expect(await snapshot()).toEqual(before);
    });

    test('revert of a migration that was never applied fails with CONFLICT before its down runs', async () => {
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
      async () => {
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

    test('revert on a stale expected head fails with CONFLICT and changes nothing', async () => {
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

    test('revert of a migration without down fails with INVALID_TARGET and changes nothing', async () => {
      await store.prepare();
      const m = ok('c001_first');
      const head = await applyOnHead(m);
      const before = await snapshot();
      const error = await rejection(store.revert(withoutDown(m), { expectedHead: head }), 'revert without a down');
      assertMigError(error, MigErrorCode.InvalidTarget, 'revert without a down');
      expect(await snapshot()).toEqual(before);
    });

    test("preview returns SQL (or undefined) and writes nothing, not even the store's tables", async () => {
      const first = ok('c001_first');
      const second = ok('c002_second');
      // On an empty database: not even the store's tables appear.
      for (const direction of ['up', 'down'] as const) {
        expectPreview(await store.preview(first, direction), capabilities.previewsSql, `preview(${direction})`);
      }
      expectPreview(await store.preview(failing('c003_broken'), 'up'), false, 'preview of a failing migration');
      expect(await store.readHead()).toBeNull();
      expect(await store.readApplied()).toEqual([]);
      expect(await effects()).toEqual([]);

      // With a history: neither the records, the head nor the database change.
      await store.prepare();
      await applyOnHead(first);
      const before = await snapshot();
      expectPreview(await store.preview(second, 'up'), capabilities.previewsSql, 'preview(up)');
      expectPreview(await store.preview(first, 'down'), capabilities.previewsSql, 'preview(down)');
      expect(await snapshot()).toEqual(before);
    });

    test('bind(fence) returns a store that applies and reverts under each lock', async () => {
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
  });
}

async function readPreparedHead<Db, F>(store: MigrationStore<Db, F>): Promise<StoreHead> {
  const head = await store.readHead();
  if (head === null) throw new Error('readHead() is null after prepare()');
  return head;
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

function expectPreview(preview: readonly string[] | undefined, required: boolean, what: string): void {
  if (preview === undefined) {
    expect(required, `${what} returned undefined, but the harness says this store previews SQL`).toBe(false);
    return;
  }
  expect(Array.isArray(preview), `${what} returns an array of statements or undefined`).toBe(true);
  for (const statement of preview) expect(typeof statement, `${what}: each statement is a string`).toBe('string');
  if (required) expect(preview.length, `${what} names at least one statement`).toBeGreaterThan(0);
}
