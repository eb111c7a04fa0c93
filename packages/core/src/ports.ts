import type { LockHolder } from './errors.js';
import type { StoreHead } from './head.js';
import type { Migration } from './migration.js';
import type { TableLockWait } from './table-lock.js';

/**
 * How a record came to be: `applied` by mig, or recorded without running: by a `baseline` (a schema made by
 * other means) or `adopted` from another tool's history.
 */
export type RecordOrigin = 'applied' | 'baseline' | 'adopted';

/** One applied migration as recorded by the store, in the order it was applied. */
export interface AppliedMigration {
  readonly name: string;
  readonly checksum: string;
  /** Head digest right after this migration was applied. */
  readonly digest: string;
  readonly appliedAt: Date;
  readonly durationMs: number | null;
  readonly transactional: boolean;
  readonly origin: RecordOrigin;
  /** For an adopted record: the tool whose history it came from ("kysely", "knex", …). */
  readonly adoptedFrom: string | null;
  /**
   * mig can run this migration's `down`. False for a migration adopted from a tool whose files use
   * another API (knex, node-pg-migrate, Drizzle): mig keeps its record and checks its file for drift, only.
   */
  readonly runnable: boolean;
  /** Checksums a repair replaced, oldest first, with when. */
  readonly repairs: readonly { readonly checksum: string; readonly at: Date }[];
}

/** How migrations recorded without running are marked (see {@link MigrationStore.record}). */
export interface RecordOptions<F = undefined> extends ApplyOptions<F> {
  readonly origin: Exclude<RecordOrigin, 'applied'>;
  readonly adoptedFrom?: string | undefined;
  /** See {@link AppliedMigration.runnable}. */
  readonly runnable: boolean;
}

/**
 * What the store is given to run several migrations in one transaction ({@link MigrationStore.applyAll}):
 * the expected head and the fence as for one, and hooks that say which migration runs. Nothing is committed
 * before the last one has run, so a migration that "ran" is not yet applied.
 */
export interface ApplyAllOptions<F = undefined> extends ApplyOptions<F> {
  /** Called as each migration starts, inside the transaction. */
  readonly onStart?: ((name: string) => void) | undefined;
  /** Called as each migration has run (and its record is written, uncommitted), with how long it took. */
  readonly onRan?: ((name: string, durationMs: number) => void) | undefined;
}

/** What a repair changes: recorded checksums replaced by the files' current ones, and records forgotten. */
export interface RecordRewrite {
  readonly checksums: readonly { readonly name: string; readonly checksum: string }[];
  /** Records to remove (their files were deleted). */
  readonly forget: readonly string[];
}

/**
 * Something a failed or killed run of a migration left in the database that blocks its next run, e.g. the
 * INVALID index of an interrupted `CREATE INDEX CONCURRENTLY`.
 */
export interface Leftover {
  /** The unrecorded migration it is attributed to. */
  readonly migration: string;
  readonly kind: string;
  /** What it is, e.g. "public.orders_email_idx". */
  readonly object: string;
  /**
   * The statement that removes it, where one does (`drop index concurrently …`); what a person must do
   * instead, as a sentence, where only they can tell (what an interrupted run's statements changed).
   */
  readonly remove: string;
  /** mig removes it itself before it runs the migration again (an invalid index); else it is the person's. */
  readonly removedOnRerun?: boolean | undefined;
}

/** Another tool's migration history found in the database (see {@link StoreInspector.foreignHistories}). */
export interface ForeignHistorySummary {
  readonly tool: string;
  /** Where, e.g. "public.kysely_migration". */
  readonly table: string;
  readonly applied: number;
}

/**
 * Inspection, kept apart from the store's writes as Kysely keeps its introspector apart from its adapter:
 * what a migration would run, what failed runs left behind, and other tools' histories. None of it writes,
 * and none of it is needed to migrate: a store offers it as `MigrationStore.inspector`, or not at all.
 *
 * @example
 * const store: MigrationStore<Db> = {
 *   // … the store's members
 *   inspector: {
 *     preview: async (migration, direction) => (direction === 'up' && migration.sql ? [migration.sql] : undefined),
 *     leftovers: async () => [],
 *     foreignHistories: async () => findOtherToolsTables(db),
 *   },
 * };
 */
export interface StoreInspector<Db = unknown> {
  /**
   * The SQL a migration would run, without running it and without writing anything, not even the store's
   * tables (for dry runs); undefined when it cannot be known.
   */
  preview(migration: Migration<Db>, direction: 'up' | 'down'): Promise<readonly string[] | undefined>;
  /**
   * What failed or killed runs of these (unrecorded) migrations left behind, attributed with certainty (see
   * the adapter's docs); never writes. Empty when nothing is left, or the store cannot tell.
   */
  leftovers(migrations: readonly Migration<Db>[]): Promise<readonly Leftover[]>;
  /**
   * Other migration tools' histories in this database (non-empty ones), so a database managed by another
   * tool is recognised before mig runs its migrations again. Empty when there are none (or it cannot tell).
   */
  foreignHistories(): Promise<readonly ForeignHistorySummary[]>;
}

/** Identifies a store without secrets: used in span attributes, cache keys and messages. */
export interface StoreTarget {
  /** `db.system.name` of the OpenTelemetry conventions, e.g. "postgresql". */
  readonly system: string;
  /** Database name (`db.namespace`). */
  readonly namespace: string;
  /** Host and port, or "embedded"; never credentials. */
  readonly server: string;
  /** Where mig keeps its records, e.g. "public.mig_migrations". */
  readonly table: string;
}

/**
 * What the store is given for one migration. `F` is the fence type of the lock the store works with: the
 * compiler rejects a lock whose fences the store cannot check.
 */
export interface ApplyOptions<F = undefined> {
  /**
   * The held lock's proof, checked in the migration's transaction so a holder that lost the lock cannot
   * record; undefined when the run holds no lock.
   */
  readonly fence?: F | undefined;
  /**
   * The head this run expects to build on. The store checks it under a row lock in the migration's
   * transaction and fails with a conflict if another writer moved it, so a migration is never recorded twice.
   */
  readonly expectedHead: StoreHead;
  /**
   * Aborted when the migration must stop while it runs (its timeout, a stop from outside, the lock lost): the
   * store ends its work at once (ends the migration's session, rolls its transaction back where the engine
   * can) and rejects; it records nothing after the abort. The migrator stops waiting for it shortly after.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Called by a store whose engine takes table locks in short attempts, each time an attempt ran out of its
   * lock timeout (and the migration's transaction was rolled back to let the application's queries through):
   * who blocked it, and when it tries again. The migrator logs it, adds it to the migration's span and counts it.
   */
  readonly onLockWait?: ((wait: TableLockWait) => void) | undefined;
}

/**
 * Where applied migrations are recorded. Implementations live in adapters (`@mig/kysely-adapter`).
 * `readHead` is the hot path: one round trip, constant cost, and no writes. `Db` is what migrations
 * receive (a Kysely instance); `F` is the fence of the locks this store works with.
 *
 * Every implementation must pass `describeStoreContract` from `@mig/core/testing`.
 */
export interface MigrationStore<Db = unknown, F = undefined> {
  readonly target: StoreTarget;
  /** The head, or null when the store's tables do not exist yet. Never creates anything. */
  readHead(): Promise<StoreHead | null>;
  /** Every applied migration in the order applied (empty when the tables do not exist). Never creates anything. */
  readApplied(): Promise<readonly AppliedMigration[]>;
  /** Creates the store's tables if needed. Idempotent and safe when several processes call it at once. */
  prepare(): Promise<void>;
  /**
   * Runs `up` and records it, atomically for transactional migrations (a failure leaves neither its changes
   * nor its record). Fails with CONFLICT, before running anything, when the head is not `expectedHead`.
   * Returns the new head.
   */
  apply(migration: Migration<Db>, options: ApplyOptions<F>): Promise<StoreHead>;
  /**
   * Runs every migration's `up` and writes each record, all in one transaction, with one head
   * compare-and-swap before the first and one fence check after the last: a failure anywhere leaves nothing
   * (the `transaction: 'all'` mode). Every migration must be transactional. Returns the new head. Optional:
   * without it the migrator refuses that mode, quoting {@link singleTransactionRefused}.
   */
  applyAll?(migrations: readonly Migration<Db>[], options: ApplyAllOptions<F>): Promise<StoreHead>;
  /**
   * Why this store cannot run {@link applyAll} on its database (e.g. MySQL commits each DDL statement
   * implicitly, so one transaction cannot hold several migrations); undefined when it can.
   */
  readonly singleTransactionRefused?: string | undefined;
  /**
   * Runs `down` and removes the record, atomically for transactional migrations. Returns the new head. Only
   * the latest applied migration can be reverted: anything else fails with CONFLICT before its `down` runs;
   * a migration without a `down` fails with INVALID_TARGET.
   */
  revert(migration: Migration<Db>, options: ApplyOptions<F>): Promise<StoreHead>;
  /**
   * Records migrations as applied without running them (an adoption, a baseline), after the current head,
   * in one transaction, with the same head compare-and-swap and fence check as `apply`. Returns the new head.
   */
  record(migrations: readonly Migration<Db>[], options: RecordOptions<F>): Promise<StoreHead>;
  /**
   * Replaces recorded checksums and removes records (a repair), in one transaction with the head
   * compare-and-swap and the fence check; the replaced checksums are kept in each record's `repairs`, and the
   * digest chain and head are rebuilt. Returns the new head.
   */
  rewrite(changes: RecordRewrite, options: ApplyOptions<F>): Promise<StoreHead>;
  /**
   * What the store can tell of the database beyond its records (see {@link StoreInspector}); optional. The
   * migrator reads it where it is: without one, a dry run shows each migration's SQL text (when it has one),
   * there are no leftovers, and another tool's history goes undetected.
   */
  readonly inspector?: StoreInspector<Db> | undefined;
  /**
   * This store working under a held lock. A lock held by a database session (an advisory lock) hands its
   * session over in its fence, so every read and write under the lock runs on the session that holds it:
   * one connection for the whole run, and if that session dies, the lock and the migration die with it.
   * A store that needs nothing from the lock returns itself.
   */
  bind(fence: F): MigrationStore<Db, F>;
}

/** Reported while waiting for a lock: after each failed attempt, and when the holder says it recorded one. */
export interface LockWait {
  readonly attempt: number;
  readonly waitedMs: number;
  /** The holder as last looked up (on the first wait, then now and then, not on every attempt). */
  readonly holder: LockHolder | null;
  /**
   * The store's head as the lock last heard of it (the holder's notices, or the attempt's own statement),
   * where it can: a waiter whose local history matches it knows, without a read, whether what it came for
   * is applied, and reads the status only when it cannot tell.
   */
  readonly head?: StoreHead | undefined;
}

/**
 * What woke a waiter: the holder's progress (the head it reached), or the lock let go (with the head the
 * holder left, where it said so).
 */
export type LockChange =
  | { readonly kind: 'applied'; readonly head: StoreHead }
  | { readonly kind: 'released'; readonly head?: StoreHead | undefined }
  | { readonly kind: 'timeout' };

export interface LockAcquireOptions {
  /** Longest wait before a `LockTimeoutError`. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly onWait?: ((wait: LockWait) => void) | undefined;
  /**
   * The head count at which the waiter's work is done (an `up`'s last target), a hint: a lock that polls
   * and sees the holder's progress may look again about when the holder should reach it, instead of at its
   * longest backoff.
   */
  readonly doneAtCount?: number | undefined;
}

/** A granted lock. `release` is idempotent and never throws for a lock that was already lost. */
export interface LockLease<F = undefined> {
  /** Passed to the store on each apply, so a holder that lost the lock cannot record a migration. */
  readonly fence: F;
  readonly waitedMs: number;
  /** Aborted when the lock is known to be lost (lease expired, connection ended). */
  readonly lost: AbortSignal;
  /**
   * Lets the lock go. `reached`, the store's head as the holder left it, lets a lock that tells waiters of
   * the release tell them the head too, so that they need not read it.
   */
  release(reached?: StoreHead): Promise<void>;
}

/**
 * The distributed migration lock. Algorithms live in `@mig/lock`, primitives in adapters. `F` is the fence
 * its leases carry, which the store checks (see {@link MigrationStore}).
 *
 * Every implementation must pass `describeLockContract` from `@mig/core/testing`.
 */
export interface MigrationLock<F = undefined> {
  /** "advisory", "lease", "mutex"… */
  readonly strategy: string;
  /** What is locked, for messages ("advisory lock 7345… on public.mig_migrations"). */
  readonly key: string;
  /**
   * True when the lock lives in the store's own tables (a lease row): they are created before the lock is
   * taken. False (a session advisory lock, an in-process mutex): the tables are created under the lock, by
   * one process, instead of by every racing process at once. Wrappers pass it through.
   */
  readonly livesInStore: boolean;
  acquire(options: LockAcquireOptions): Promise<LockLease<F>>;
}

/** One attempt at a try-lock: granted (with what the lock needs next), or busy (with who holds it). */
export type TryLockResult<T> =
  | { readonly acquired: true; readonly value: T }
  | {
      readonly acquired: false;
      readonly holder: LockHolder | null;
      /**
       * The store's head, where the attempt could read it in the same statement (a lease row beside the
       * store's head): a waiter need not read the status to know whether its targets are applied.
       */
      readonly head?: StoreHead | undefined;
    };

/** A dedicated database session that can hold a session-scoped lock (a PostgreSQL advisory lock). */
export interface LockSession<F> {
  /**
   * One non-blocking attempt; on success the value is the fence the store checks. Cheap: a busy result need
   * not say who holds the lock (`holder` does, when asked).
   */
  tryLock(): Promise<TryLockResult<F>>;
  /** Who holds the lock now, for a report or a timeout message; null when nobody (or unknown). */
  holder?(): Promise<LockHolder | null>;
  /**
   * Sleeps until the holder signals a change (a migration recorded, the lock let go) or `ms` pass; the
   * session holds no transaction (and so no snapshot) meanwhile. Without it, waiters poll with backoff.
   */
  waitForChange?(ms: number, signal?: AbortSignal): Promise<LockChange>;
  /** Releases the lock (telling waiters of `reached`, where it can); false when this session did not hold it. */
  unlock(reached?: StoreHead): Promise<boolean>;
  /** Ends the session (which releases anything it still holds). */
  close(): Promise<void>;
}

/** Primitive of the session lock strategy: opens sessions that can try the lock. */
export interface SessionLockPrimitive<F> {
  readonly strategy: string;
  readonly key: string;
  /**
   * Opens a session. A server that refuses connections for now (too many clients, starting up) is tried
   * again until `signal` aborts (the lock's timeout); without a signal, once.
   */
  open(signal?: AbortSignal): Promise<LockSession<F>>;
}

/** A granted lease. */
export interface LeaseGrant<F> {
  /** Grows with each grant of this key, so a stale holder's token never matches again. */
  readonly token: string;
  readonly expiresAt: Date;
  readonly fence: F;
}

/** Primitive of the lease strategy: a lock row with an owner, a token and an expiry. No session state. */
export interface LeasePrimitive<F> {
  readonly strategy: string;
  readonly key: string;
  /** True when the lease row lives in the store's tables (see {@link MigrationLock.livesInStore}). */
  readonly livesInStore: boolean;
  /** Takes the lease if it is free or expired (or already this owner's). */
  tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<F>>>;
  /** Extends a held lease; null when it is no longer held by this owner and token. */
  renew(owner: string, token: string, ttlMs: number): Promise<Date | null>;
  /** Gives the lease up (it expires at once); a lease held by someone else is left alone. */
  release(owner: string, token: string): Promise<void>;
  /** The current holder, or null when the lease is free. */
  holder(): Promise<LockHolder | null>;
}

/** A value from a status cache, and whether it came from the cache (true) or a load (false). */
export interface CacheLookup<T> {
  readonly value: T;
  readonly cached: boolean;
}

/**
 * A TTL cache of migration status, keyed by what identifies the database and the migration set. `peek` is
 * on the service's fast path: synchronous, no I/O, no allocation. Implemented by `@mig/cache`; every
 * implementation must pass `describeCacheContract` from `@mig/core/testing`.
 */
export interface StatusCache<T = unknown> {
  readonly ttlMs: number;
  /**
   * The fresh value for `key`, or undefined when absent or expired. The ready path's freshness test: not a
   * lookup, so it counts as neither hit nor miss.
   */
  peek(key: string): T | undefined;
  /**
   * A lookup: the fresh value (a hit), or the result of `load` (a miss); concurrent misses for one key share
   * one load.
   */
  get(key: string, load: () => Promise<T>): Promise<CacheLookup<T>>;
  set(key: string, value: T): void;
  /** Drops one key, or every key. */
  invalidate(key?: string): void;
}

/** A pino-compatible logger slice: structured fields first, then the message. */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});
