import { randomInt } from 'node:crypto';
import { type Migration, MigrationConflictError } from '@mig/core';
import {
  type ApplyOptions,
  EMPTY_DIGEST,
  EMPTY_HEAD,
  type Leftover,
  lockLost,
  nextDigest,
  type RecordOptions,
  type RecordRewrite,
  type StoreHead,
} from '@mig/core/adapter';
import { type RawBuilder, sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { KyselyFence } from '../../fence.js';
import type { LockAttemptOptions } from '../../lock-attempts.js';
import { failedInScript, runStatements, withNote } from '../../sql/run-statements.js';
import {
  type AllHooks,
  type EngineSettings,
  notLatest,
  STORE_SCHEMA_VERSION,
  type Step,
  type StoreEngine,
  throwIfStopped,
  timed,
} from '../../store-engine.js';
import { StoreReads } from '../../store-reads.js';
import type { StoreTables } from '../../tables.js';
import { changeChannel } from './advisory.js';
import { changeAllInOne } from './all.js';
import {
  type BatchSettings,
  batch,
  FENCE_LOST,
  fenceCheck,
  HEAD_MOVED,
  latestIs,
  NOT_LATEST,
  notify,
  prologue,
  recordApplied,
  recordReverted,
  writeHead,
} from './batch.js';
import { isConcurrentCreate, isSessionEnded, isUndefinedTable, sqlState } from './errors.js';
import { checkFence, NOT_HELD_BY_SESSION } from './fence.js';
import { invalidIndexesOf } from './leftovers.js';
import {
  isLockTimeout,
  postgresAttempts,
  runStatementOutside,
  type StepMarker,
  withLockAttempts,
} from './lock-attempts.js';
import { splitPostgresStatements } from './split.js';
import { tenantSearchPath } from './tenants.js';

/** First key of the advisory locks that mark a running step's session: "mih", beside the lock's "mig". */
const STEP_MARKER_CLASS_ID = 0x6d6968;

/** The least time between two progress notices to waiters (see `PostgresStoreEngine.#notice`). */
export const PROGRESS_NOTICE_INTERVAL_MS = 500;

/**
 * mig's store SQL on PostgreSQL and PGlite. A transactional SQL migration travels in one round trip with
 * mig's statements (BEGIN, the head checked under its row lock, the migration, the fence, the record, the
 * head, now and then a NOTIFY for waiters, COMMIT); a code migration takes one round trip before and one after its own
 * queries. The checks raise errors of mig's own SQLSTATE, turned back into mig's errors by `translate`.
 */
export class PostgresStoreEngine extends StoreReads implements StoreEngine {
  readonly tables: StoreTables;
  readonly #settings: EngineSettings;
  /** Where waiters listen (a progress notice now and then, see `#notice`); none on an embedded engine. */
  readonly #channel: string | undefined;
  /** When the last progress notice went out (performance.now()), for {@link PROGRESS_NOTICE_INTERVAL_MS}. */
  #noticeAt = Number.NEGATIVE_INFINITY;
  /**
   * Steps are marked by a session lock (see `#markerOf`), so a stop can find their session from another one
   * and end it; not on an embedded engine (one session, stopped with a ROLLBACK on it).
   */
  readonly #marks: boolean;
  #clientCheck: Promise<boolean> | undefined;

  constructor(
    tables: StoreTables,
    settings: EngineSettings,
    options: { readonly notifies: boolean; readonly embedded: boolean },
  ) {
    super();
    this.tables = tables;
    this.#settings = settings;
    this.#channel = options.notifies ? changeChannel(tables) : undefined;
    this.#marks = !options.embedded;
  }

  /**
   * The advisory keys that mark the session running this step, taken as a shared lock (it blocks nobody): its
   * own random key, so that a stop ends that session and no other (a waiting instance's step included).
   */
  #markerOf(step: Step): StepMarker | undefined {
    if (!this.#marks) return undefined;
    step.running.id ??= String(randomInt(1, 0x7fffffff));
    return { classId: STEP_MARKER_CLASS_ID, objId: Number(step.running.id) };
  }

  async createTables(db: MigrationDb, fromVersion: number | null): Promise<void> {
    const t = this.tables;
    await db.transaction().execute(async (trx) => {
      if (t.schema !== undefined) await ensureSchema(trx, t.schema);
      for (const statement of createStoreTables(t, fromVersion)) await statement.execute(trx);
    });
  }

  isRetryableCreate(error: unknown): boolean {
    return isConcurrentCreate(error);
  }

  isUndefinedTable(error: unknown): boolean {
    return isUndefinedTable(error);
  }

  async changeInTransaction(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    const base = await this.#batchSettings(db);
    const marker = this.#markerOf(step);
    // Each attempt a whole transaction: one that runs out of its lock timeout is rolled back, and tried again.
    await withLockAttempts(this.#attemptOptions(step, marker), async (lockWaitMs) => {
      const settings = { ...base, lockWaitMs, marker, statementMs: step.statementTimeoutMs };
      const before = [
        prologue(this.tables, step.expected, settings),
        step.direction === 'down' ? latestIs(this.tables, step.migration.name) : undefined,
      ];
      if (step.script !== undefined) {
        // The record travels in the same round trip as the migration.
        const text = batch(['BEGIN', ...before, step.script, ...this.#epilogue(step), 'COMMIT']);
        const scriptAt = step.script.trim() === '' ? -1 : batch(['BEGIN', ...before]).length + 3;
        await step
          .recordSpan(true, () => this.#inTransactionBatch(db, text, step))
          .catch((error: unknown) => {
            // A lock timeout stays as it is: the attempts try again.
            if (isLockTimeout(error)) throw error;
            throw failedInScript(step, step.script ?? '', scriptAt, error, splitPostgresStatements);
          });
        return;
      }
      await db.transaction().execute(async (trx) => {
        step.running.conn = trx;
        await sql.raw(batch(before)).execute(trx);
        await run(trx);
        throwIfStopped(step);
        await step.recordSpan(false, () => sql.raw(batch(this.#epilogue(step))).execute(trx));
      });
    });
  }

  async changeAll(
    db: MigrationDb,
    steps: readonly Step[],
    run: (step: Step, db: MigrationDb) => Promise<void>,
    hooks: AllHooks,
  ): Promise<void> {
    const first = steps[0];
    if (first === undefined) return;
    const marker = this.#markerOf(first);
    const settings = { ...(await this.#batchSettings(db)), marker };
    const attempts = this.#attemptOptions(first, marker);
    await changeAllInOne(db, { tables: this.tables, settings, attempts, channel: this.#channel }, steps, run, hooks);
  }

  #attemptOptions(step: Step, marker: StepMarker | undefined): LockAttemptOptions {
    const { ddlLockTimeoutMs, lockWaitTimeoutMs } = this.#settings;
    return postgresAttempts({ attemptMs: ddlLockTimeoutMs, budgetMs: lockWaitTimeoutMs }, step, marker);
  }

  async changeOutside(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    const { migration, direction } = step;
    const noWaits = { lockWaitMs: 0, clientCheckMs: 0 };
    await sql
      .raw(
        batch([
          prologue(this.tables, step.expected, noWaits),
          direction === 'down' ? latestIs(this.tables, migration.name) : undefined,
          fenceCheck(this.tables, step.fence),
        ]),
      )
      .execute(db);
    if (direction === 'up') await this.#dropLeftovers(db, migration);
    // A SQL migration statement by statement, split as PostgreSQL reads it: one query string of several
    // statements would be an implicit transaction, which CREATE INDEX CONCURRENTLY refuses.
    const statements = step.script === undefined ? undefined : splitPostgresStatements(step.script);
    const marker = this.#markerOf(step);
    const session: { lockTimeoutMs?: number | undefined } = {};
    const runOutside = async (conn: MigrationDb) => {
      step.running.conn = conn;
      if (marker) await sql`select pg_advisory_lock_shared(${marker.classId}::int, ${marker.objId}::int)`.execute(conn);
      const limited = step.statementTimeoutMs > 0;
      const restore = await this.#enterTenant(conn);
      try {
        if (limited) {
          await sql`select set_config('statement_timeout', ${`${Math.round(step.statementTimeoutMs)}ms`}, false)`.execute(
            conn,
          );
        }
        if (statements === undefined) return await run(conn);
        await runStatements(conn, step, statements, {
          inTransaction: false,
          beforeEach: () => throwIfStopped(step),
          sessionEnded: isSessionEnded,
          execute: (text) => runStatementOutside(conn, text, this.#attemptOptions(step, marker), session),
        });
      } finally {
        if (session.lockTimeoutMs !== undefined) await sql`reset lock_timeout`.execute(conn).catch(() => {});
        if (limited) await sql`reset statement_timeout`.execute(conn).catch(() => {});
        await restore();
        if (marker) {
          await sql`select pg_advisory_unlock_shared(${marker.classId}::int, ${marker.objId}::int)`
            .execute(conn)
            .catch(() => {});
        }
      }
    };
    const durationMs = await db
      .connection()
      .execute((conn) => timed(() => runOutside(conn)))
      .catch(async (error: unknown) => {
        throw direction === 'up' ? await this.#failedOutside(db, migration, error) : error;
      });
    throwIfStopped(step);
    const text = batch([
      'BEGIN',
      prologue(this.tables, step.expected, noWaits),
      ...this.#epilogue(step, durationMs),
      'COMMIT',
    ]);
    await step.recordSpan(false, () => this.#inTransactionBatch(db, text));
  }

  /**
   * Ends a running step: from another session, the session holding the step's marker is terminated (its
   * transaction rolls back, and a lock session's advisory lock goes with it); on an embedded engine, where
   * there is one session, its transaction is rolled back on the step's own connection.
   */
  async stop(db: MigrationDb, step: Step): Promise<void> {
    const marker = step.running.id === undefined ? undefined : this.#markerOf(step);
    if (marker === undefined) {
      if (step.running.conn) await sql.raw('ROLLBACK').execute(step.running.conn);
      return;
    }
    await sql`
      select pg_terminate_backend(l.pid) from pg_catalog.pg_locks l
      where l.locktype = 'advisory' and l.classid = ${marker.classId}::int::oid
        and l.objid = ${marker.objId}::int::oid and l.objsubid = 2 and l.granted and l.pid <> pg_backend_pid()
        and l.database = (select oid from pg_catalog.pg_database where datname = current_database())`.execute(db);
  }

  async record(
    db: MigrationDb,
    migrations: readonly Migration<MigrationDb>[],
    options: RecordOptions<KyselyFence>,
  ): Promise<StoreHead> {
    return db.transaction().execute(async (trx) => {
      let head = await this.#lockHead(trx, migrations[0]?.name ?? '(none)', options.expectedHead);
      await checkFence(trx, this.tables, options.fence);
      for (const m of migrations) {
        const next = { count: head.count + 1, digest: nextDigest(head.digest, m.name, m.checksum) };
        await sql`
          insert into ${this.tables.records} (name, checksum, digest, transactional, duration_ms, origin, adopted_from, runnable)
          values (${m.name}, ${m.checksum}, ${next.digest}, true, null, ${options.origin}, ${options.adoptedFrom ?? null}, ${options.runnable})`.execute(
          trx,
        );
        head = next;
      }
      await sql.raw(writeHead(this.tables, head)).execute(trx);
      return head;
    });
  }

  async rewrite(db: MigrationDb, changes: RecordRewrite, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return db.transaction().execute(async (trx) => {
      await this.#lockHead(trx, changes.checksums[0]?.name ?? changes.forget[0] ?? '(none)', options.expectedHead);
      await checkFence(trx, this.tables, options.fence);
      const head = await this.rewriteRecords(trx, changes);
      await sql.raw(writeHead(this.tables, head)).execute(trx);
      return head;
    });
  }

  leftovers(db: MigrationDb, migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]> {
    return invalidIndexesOf(db, migrations);
  }

  async translate(db: MigrationDb, error: unknown, step: Step): Promise<unknown> {
    const state = sqlState(error);
    if (state === HEAD_MOVED) {
      const found = await this.readHead(db).catch(() => null);
      return new MigrationConflictError(step.migration.name, step.expected, found);
    }
    if (state === NOT_LATEST) {
      const [latest] = await this.latest(db, 1).catch(() => []);
      return notLatest(step.migration.name, latest?.name ?? null);
    }
    if (state === FENCE_LOST && step.fence !== undefined) {
      return step.fence.kind === 'advisory'
        ? lockLost.notHeldBySession(step.fence.key, NOT_HELD_BY_SESSION)
        : lockLost.leaseExpired(step.fence.key, step.fence.token);
    }
    return error;
  }

  /** The fence check, the record written or removed, the head moved, and the waiters told. */
  #epilogue(step: Step, durationMs?: number): (string | undefined)[] {
    const record =
      step.direction === 'up'
        ? recordApplied(this.tables, step.migration, step.transactional, step.next, durationMs)
        : recordReverted(this.tables, step.migration.name, step.expected);
    return [fenceCheck(this.tables, step.fence), ...record, this.#notice(step)];
  }

  /**
   * A progress notice for waiters at most every {@link PROGRESS_NOTICE_INTERVAL_MS}, never one per migration:
   * each notice wakes every waiting session and process, and a holder that paid for those wake-ups on each of
   * 50 quick migrations ran several times slower under contention. A waiter that came for fewer migrations
   * than the holder applies learns it is done at the next notice; the others at the release, which always
   * notifies.
   */
  #notice(step: Step): string | undefined {
    const now = performance.now();
    if (now - this.#noticeAt < PROGRESS_NOTICE_INTERVAL_MS) return undefined;
    this.#noticeAt = now;
    return notify(this.#channel, step.next);
  }

  /**
   * Sends a batch that opens and commits its own transaction. It stops at its first error, inside that
   * transaction: the transaction is ended on this same connection, never handed back to the pool open.
   */
  async #inTransactionBatch(db: MigrationDb, text: string, step?: Step): Promise<void> {
    await db.connection().execute(async (conn) => {
      if (step) step.running.conn = conn;
      try {
        await sql.raw(text).execute(conn);
      } catch (error) {
        await sql
          .raw('ROLLBACK')
          .execute(conn)
          .catch(() => {});
        throw error;
      }
    });
  }

  /**
   * Outside a transaction, a tenant's migration runs with the tenant's schema first on the session's
   * search_path; the returned function puts back what the pooled connection had.
   */
  async #enterTenant(conn: MigrationDb): Promise<() => Promise<void>> {
    const runIn = this.#settings.runIn;
    if (runIn === undefined) return async () => {};
    const { rows } = await sql<{ before: string }>`
      select current_setting('search_path') as before, set_config('search_path', ${tenantSearchPath(runIn)}, false)`.execute(
      conn,
    );
    const before = rows[0]?.before ?? '"$user", public';
    return async () => {
      await sql`select set_config('search_path', ${before}, false)`.execute(conn).catch(() => {});
    };
  }

  /** lock_timeout and, where the server has it, client_connection_check_interval, for a migration's batch. */
  async #batchSettings(db: MigrationDb): Promise<BatchSettings> {
    const checkClient = await this.#clientCheckSupported(db);
    return {
      lockWaitMs: this.#settings.lockWaitTimeoutMs,
      clientCheckMs: checkClient ? this.#settings.clientCheckIntervalMs : 0,
      idleMs: this.#settings.idleInTransactionMs,
      searchPath: this.#settings.runIn === undefined ? undefined : tenantSearchPath(this.#settings.runIn),
    };
  }

  #clientCheckSupported(db: MigrationDb): Promise<boolean> {
    if (this.#settings.clientCheckIntervalMs <= 0) return Promise.resolve(false);
    this.#clientCheck ??= sql<{ supported: boolean }>`
      select exists (select 1 from pg_catalog.pg_settings where name = 'client_connection_check_interval') as supported`
      .execute(db)
      .then((r) => r.rows[0]?.supported === true)
      .catch(() => false);
    return this.#clientCheck;
  }

  /** Locks the head row for this transaction and checks it is where the caller expects it. */
  async #lockHead(trx: MigrationDb, name: string, expected: StoreHead): Promise<StoreHead> {
    const { rows } = await sql<{ applied_count: number | string; digest: string }>`
      select applied_count, digest from ${this.tables.head} where id = 1 for update`.execute(trx);
    const row = rows[0];
    const head = row ? { count: Number(row.applied_count), digest: row.digest } : EMPTY_HEAD;
    if (head.count !== expected.count || head.digest !== expected.digest) {
      throw new MigrationConflictError(name, expected, head);
    }
    return head;
  }

  /**
   * Before a migration runs outside a transaction: what an earlier failed or killed run of it left (the
   * INVALID index of its CREATE INDEX CONCURRENTLY) is dropped, each logged, so it can run again.
   */
  async #dropLeftovers(db: MigrationDb, migration: Migration<MigrationDb>): Promise<void> {
    for (const leftover of await invalidIndexesOf(db, [migration])) {
      this.#settings.logger.warn(
        { migration: migration.name, dropped: leftover.object, statement: leftover.remove },
        `dropping the invalid index ${leftover.object} that an earlier run of ${migration.name} left behind`,
      );
      await sql.raw(leftover.remove).execute(db);
    }
  }

  /** A migration that failed outside a transaction, with what it left behind named, and how to remove it. */
  async #failedOutside(db: MigrationDb, migration: Migration<MigrationDb>, error: unknown): Promise<unknown> {
    const left = await invalidIndexesOf(db, [migration]).catch(() => []);
    if (left.length === 0) return error;
    const listed = left.map((l) => `${l.object} (to remove it yourself: ${l.remove};)`).join(', ');
    const what = left.length === 1 ? 'an invalid index' : `${left.length} invalid indexes`;
    const note = `It left ${what} behind: ${listed}. mig drops ${left.length === 1 ? 'it' : 'them'} itself before it runs this migration again`;
    return withNote(error, migration.name, 'up', note);
  }
}

/**
 * mig's tables at {@link STORE_SCHEMA_VERSION} on PostgreSQL, in order, each statement idempotent: created, or
 * (`fromVersion` 1) given what version 2 added, and the head row. The caller runs them in one transaction.
 */
export function createStoreTables(t: StoreTables, fromVersion: number | null): RawBuilder<unknown>[] {
  return [
    sql`
    create table if not exists ${t.records} (
      id bigint generated by default as identity primary key,
      name text not null unique,
      checksum text not null,
      digest text not null,
      transactional boolean not null default true,
      applied_at timestamptz not null default now(),
      duration_ms integer,
      origin text not null default 'applied',
      adopted_from text,
      runnable boolean not null default true,
      repairs text not null default '[]'
    )`,
    ...(fromVersion === 1
      ? [
          // Tables of version 1 (the create above left them as they were) get what version 2 added.
          sql`
            alter table ${t.records}
              add column if not exists origin text not null default 'applied',
              add column if not exists adopted_from text,
              add column if not exists runnable boolean not null default true,
              add column if not exists repairs text not null default '[]'`,
        ]
      : []),
    sql`
    create table if not exists ${t.head} (
      id integer primary key check (id = 1),
      applied_count integer not null,
      digest text not null,
      schema_version integer not null,
      updated_at timestamptz not null default now()
    )`,
    sql`
    create table if not exists ${t.lock} (
      key text primary key,
      owner text,
      token bigint not null,
      acquired_at timestamptz,
      expires_at timestamptz not null
    )`,
    sql`
    insert into ${t.head} (id, applied_count, digest, schema_version)
    values (1, 0, ${EMPTY_DIGEST}, ${STORE_SCHEMA_VERSION})
    on conflict (id) do update set schema_version = excluded.schema_version
    where ${t.head}.schema_version < excluded.schema_version`,
  ];
}

/** CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists: look first. */
async function ensureSchema(trx: MigrationDb, schema: string): Promise<void> {
  const { rows } = await sql<{ found: boolean }>`
    select exists (select 1 from pg_catalog.pg_namespace where nspname = ${schema}) as found`.execute(trx);
  if (!rows[0]?.found) await sql`create schema if not exists ${sql.id(schema)}`.execute(trx);
}
