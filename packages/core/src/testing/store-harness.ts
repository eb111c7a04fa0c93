import type { MigrationLock, MigrationStore } from '../ports.js';
import type { BuildMigration } from './migration-spec.js';

// What a store's harness gives `describeStoreContract`, and the cases it runs, by title.

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

/**
 * What a store can do; a case that needs more than the store has is skipped (and shown as skipped). What the
 * suite can read instead is not declared: the inspector cases are skipped for a store without `inspector`,
 * and the fence cases pass over a lock whose leases carry no fence (`undefined`: an in-process mutex).
 */
export interface StoreCapabilities {
  /** Runs modules marked non-transactional (outside a transaction), recording them after they succeed. */
  readonly nonTransactional: boolean;
  /** `inspector.preview` returns the SQL of the migrations the harness builds, rather than undefined. */
  readonly previewsSql: boolean;
  /**
   * The store checks each lock's fence in the transaction of every change (apply, revert, record,
   * rewrite), so a change with the fence of a lock released since fails with LOCK_LOST and changes nothing.
   * Default true. False only for a store whose locks' fences it cannot check (a lock outside the database);
   * the fence cases are then skipped, and the lock alone keeps two writers apart.
   */
  readonly checksFences?: boolean | undefined;
}

/**
 * How `describeStoreContract` drives a store implementation.
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
  /** Builds a migration for this engine (see `MigrationSpec`). Checksums must differ between names. */
  readonly migration: BuildMigration<Db>;
  /**
   * Titles of cases this implementation is known to fail, each tracked as a bug. They run as `it.fails`, so
   * the suite turns red once the bug is fixed and the entry must be removed.
   */
  readonly expectedFailures?: readonly StoreCase[] | undefined;
}

/** The cases of `describeStoreContract`, by title. */
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
  'record writes migrations as applied without running them, with their origin, in one step on the head',
  'record on a stale expected head fails with CONFLICT and records nothing',
  'rewrite replaces checksums, keeps the old ones in repairs, and rebuilds the digest chain',
  'rewrite forgets a record and rebuilds the head from the records left',
  'bind(fence) returns a store that applies and reverts under each lock',
  'apply and revert with the fence of a released lock fail with LOCK_LOST and change nothing',
  'record and rewrite with the fence of a released lock fail with LOCK_LOST and record nothing',
  "inspector.preview returns SQL (or undefined) and writes nothing, not even the store's tables",
  'inspector.foreignHistories is empty on a database no other tool has migrated',
  'inspector.leftovers: nothing is left behind by migrations that never ran',
] as const;

/** The title of one case, e.g. for `expectedFailures`. */
export type StoreCase = (typeof STORE_CASES)[number];
