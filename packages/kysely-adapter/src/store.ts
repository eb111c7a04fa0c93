import {
  type AppliedMigration,
  type ApplyOptions,
  Attr,
  DEFAULT_SCHEMA,
  DEFAULT_STATEMENT_LOCK_WAIT_MS,
  DEFAULT_TABLE,
  type ForeignHistorySummary,
  isMigError,
  type Leftover,
  LockLostError,
  type Logger,
  MigError,
  MigErrorCode,
  type Migration,
  MigrationConflictError,
  type MigrationDirection,
  MigrationFailedError,
  type MigrationStore,
  type RecordOptions,
  type RecordOrigin,
  type RecordRewrite,
  SpanName,
  type StoreHead,
  type StoreTarget,
  silentLogger,
  type TelemetryOptions,
} from '@mig/core';
import { createTelemetry, describeThrown, EMPTY_DIGEST, nextDigest, withSpan } from '@mig/core/adapter';
import type { Tracer } from '@opentelemetry/api';
import { sql } from 'kysely';
import { detectEngine, type Engine } from './engine.js';
import { detectForeignHistories } from './foreign/index.js';
import { changeChannel } from './internal/advisory.js';
import { checkFence, type KyselyFence } from './internal/fence.js';
import { invalidIndexesOf } from './internal/leftovers.js';
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
} from './internal/pg-batch.js';
import { isConcurrentCreate, isUndefinedTable, sqlState } from './internal/pg-errors.js';
import { previewQueries } from './internal/preview.js';
import { type StoreTables, storeTables } from './internal/tables.js';
import type { MigrationDb } from './sources.js';
import { VERSION } from './version.js';

/**
 * Version of mig's own tables; a store refuses tables written by a newer version, and brings older ones up
 * to date in `prepare`. 2: records say how they came to be (origin, adopted_from, runnable) and keep the
 * checksums a repair replaced.
 */
export const STORE_SCHEMA_VERSION = 2;

export interface KyselyStoreOptions {
  readonly db: MigrationDb;
  /** Schema of mig's tables. Default "public". */
  readonly schema?: string | undefined;
  /** Table of applied migrations; the head and lock tables take this name plus `_head` and `_lock`. */
  readonly table?: string | undefined;
  /** How to name the database in spans and messages (no secrets). See `describeConnection`. */
  readonly target?: Partial<Omit<StoreTarget, 'table'>> | undefined;
  /** Overrides the engine read from the Kysely instance (its dialect adapter); rarely needed. */
  readonly engine?: Engine | undefined;
  /**
   * PostgreSQL 14+: in each migration's transaction, have the server check every this many ms that the
   * client is still there, so a migration whose process was killed is rolled back within a second instead of
   * when its statement ends. 0 disables. Default 1000 on PostgreSQL, 0 on PGlite.
   */
  readonly clientCheckIntervalMs?: number | undefined;
  /**
   * Longest wait of a statement inside a (transactional) migration for a lock another session holds,
   * e.g. an ALTER TABLE behind a long transaction: waiting longer would stall every query on that table
   * behind it. 0 disables. Default 30 s.
   */
  readonly lockWaitTimeoutMs?: number | undefined;
  /** Where the `mig.record` spans go; defaults to the global provider (a no-op without an SDK). */
  readonly tracerProvider?: TelemetryOptions['tracerProvider'];
  /** Where the store says what it repairs by itself (an invalid index left by a failed run, dropped). */
  readonly logger?: Logger | undefined;
}

/**
 * mig's store on Kysely (PostgreSQL through pg, or PGlite). Three tables: the applied records, a one-row
 * head (count and digest of the history, so a status check reads one row), and the lease lock rows.
 */
export function createKyselyStore(options: KyselyStoreOptions): KyselyStore {
  const tables = storeTables(options.schema ?? DEFAULT_SCHEMA, options.table ?? DEFAULT_TABLE);
  const { capabilities } = detectEngine(options.db, options.engine);
  const target: StoreTarget = Object.freeze({
    system: options.target?.system ?? capabilities.system,
    namespace: options.target?.namespace ?? (capabilities.embedded ? capabilities.engine : 'postgres'),
    server: options.target?.server ?? (capabilities.embedded ? 'embedded' : 'unknown'),
    table: tables.qualified,
  });
  const clientCheckIntervalMs = options.clientCheckIntervalMs ?? (capabilities.embedded ? 0 : 1000);
  const { tracer } = createTelemetry({ tracerProvider: options.tracerProvider }, '@mig/kysely-adapter', VERSION);
  return new KyselyStore(options.db, tables, target, {
    clientCheckIntervalMs,
    lockWaitTimeoutMs: options.lockWaitTimeoutMs ?? DEFAULT_STATEMENT_LOCK_WAIT_MS,
    clientCheckSupported: undefined,
    tracer,
    logger: options.logger ?? silentLogger,
    channel: capabilities.sessionLocks ? changeChannel(tables) : undefined,
  });
}

/** Settings shared by a store and the stores bound to its lock sessions. */
export interface StoreSettings {
  readonly clientCheckIntervalMs: number;
  readonly lockWaitTimeoutMs: number;
  readonly tracer: Tracer;
  readonly logger: Logger;
  /** Where waiters listen for a change (NOTIFY after each migration); none when nobody can listen. */
  readonly channel: string | undefined;
  clientCheckSupported: Promise<boolean> | undefined;
}

interface HeadRow {
  applied_count: number | string;
  digest: string;
}

/** A record row; the columns after `transactional` are absent from the tables of store version 1. */
interface RecordRow {
  name: string;
  checksum: string;
  digest: string;
  applied_at: Date | string;
  duration_ms: number | null;
  transactional: boolean;
  origin?: string | null;
  adopted_from?: string | null;
  runnable?: boolean | null;
  repairs?: string | null;
}

const ORIGINS: readonly RecordOrigin[] = ['applied', 'baseline', 'adopted'];

function toApplied(r: RecordRow): AppliedMigration {
  const origin = ORIGINS.find((o) => o === r.origin) ?? 'applied';
  return {
    name: r.name,
    checksum: r.checksum,
    digest: r.digest,
    appliedAt: r.applied_at instanceof Date ? r.applied_at : new Date(r.applied_at),
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    transactional: r.transactional,
    origin,
    adoptedFrom: r.adopted_from ?? null,
    runnable: r.runnable ?? true,
    repairs: parseRepairs(r.repairs).map((x) => ({ checksum: x.checksum, at: new Date(x.at) })),
  };
}

/** The `repairs` column: a JSON list of `{ checksum, at }`, oldest first; anything else reads as none. */
function parseRepairs(text: string | null | undefined): Array<{ checksum: string; at: string }> {
  try {
    const list: unknown = JSON.parse(text ?? '[]');
    return Array.isArray(list)
      ? list.filter((x): x is { checksum: string; at: string } => typeof x?.checksum === 'string')
      : [];
  } catch {
    return [];
  }
}

/** mig's store on a Kysely instance; its locks' fences are {@link KyselyFence}s. */
export class KyselyStore implements MigrationStore<MigrationDb, KyselyFence> {
  readonly target: StoreTarget;
  readonly tables: StoreTables;
  readonly #db: MigrationDb;
  readonly #settings: StoreSettings;

  /** Use {@link createKyselyStore}. */
  constructor(db: MigrationDb, tables: StoreTables, target: StoreTarget, settings: StoreSettings) {
    this.#db = db;
    this.tables = tables;
    this.target = target;
    this.#settings = settings;
  }

  /** Under an advisory lock, this store on the lock's own session; otherwise this store. */
  bind(fence: KyselyFence): KyselyStore {
    return fence?.kind === 'advisory' ? new KyselyStore(fence.db, this.tables, this.target, this.#settings) : this;
  }

  async readHead(): Promise<StoreHead | null> {
    try {
      const { rows } = await sql<HeadRow>`select applied_count, digest from ${this.tables.head} where id = 1`.execute(
        this.#db,
      );
      const row = rows[0];
      return row ? { count: Number(row.applied_count), digest: row.digest } : { count: 0, digest: EMPTY_DIGEST };
    } catch (error) {
      if (isUndefinedTable(error)) return null;
      throw this.#error('read the migration head', error);
    }
  }

  async readApplied(): Promise<readonly AppliedMigration[]> {
    try {
      // Every column: the tables of an older mig (before `prepare` brought them up to date) lack the newer ones.
      const { rows } = await sql<RecordRow>`select * from ${this.tables.records} order by id`.execute(this.#db);
      return rows.map(toApplied);
    } catch (error) {
      if (isUndefinedTable(error)) return [];
      throw this.#error('read the applied migrations', error);
    }
  }

  async prepare(): Promise<void> {
    const version = await this.#schemaVersion();
    if (version === STORE_SCHEMA_VERSION) return;
    if (version !== null && version > STORE_SCHEMA_VERSION) {
      throw new MigError(
        MigErrorCode.Store,
        `The tables ${this.tables.qualified}* were created by a newer mig (store version ${version}; this one knows ${STORE_SCHEMA_VERSION}). Upgrade mig.`,
      );
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#createTables(version);
        return;
      } catch (error) {
        // Another process created them at the same moment; its objects exist now, so try once more.
        if (isConcurrentCreate(error) && attempt < 5) continue;
        throw this.#error('create its tables', error);
      }
    }
  }

  async #schemaVersion(): Promise<number | null> {
    try {
      const { rows } = await sql<{
        schema_version: number;
      }>`select schema_version from ${this.tables.head} where id = 1`.execute(this.#db);
      return rows[0] ? Number(rows[0].schema_version) : 0;
    } catch (error) {
      if (isUndefinedTable(error)) return null;
      throw this.#error('read its schema version', error);
    }
  }

  /** Creates the tables (all at the current version), or brings those of an older version up to date. */
  async #createTables(fromVersion: number | null): Promise<void> {
    const t = this.tables;
    await this.#db.transaction().execute(async (trx) => {
      // Checked first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists.
      const { rows } = await sql<{ found: boolean }>`
        select exists (select 1 from pg_catalog.pg_namespace where nspname = ${t.schema}) as found`.execute(trx);
      if (!rows[0]?.found) await sql`create schema if not exists ${sql.id(t.schema)}`.execute(trx);
      await sql`
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
        )`.execute(trx);
      if (fromVersion === 1) {
        // Tables of version 1 (the create above left them as they were) get what version 2 added.
        await sql`
          alter table ${t.records}
            add column if not exists origin text not null default 'applied',
            add column if not exists adopted_from text,
            add column if not exists runnable boolean not null default true,
            add column if not exists repairs text not null default '[]'`.execute(trx);
      }
      await sql`
        create table if not exists ${t.head} (
          id integer primary key check (id = 1),
          applied_count integer not null,
          digest text not null,
          schema_version integer not null,
          updated_at timestamptz not null default now()
        )`.execute(trx);
      await sql`
        create table if not exists ${t.lock} (
          key text primary key,
          owner text,
          token bigint not null,
          acquired_at timestamptz,
          expires_at timestamptz not null
        )`.execute(trx);
      await sql`
        insert into ${t.head} (id, applied_count, digest, schema_version)
        values (1, 0, ${EMPTY_DIGEST}, ${STORE_SCHEMA_VERSION})
        on conflict (id) do update set schema_version = excluded.schema_version
        where ${t.head}.schema_version < excluded.schema_version`.execute(trx);
    });
  }

  apply(migration: Migration<MigrationDb>, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return this.#change(migration, 'up', options);
  }

  revert(migration: Migration<MigrationDb>, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return this.#change(migration, 'down', options);
  }

  /**
   * Runs `up` or `down` and records it. A transactional migration: one transaction with the head locked,
   * the migration, the fence check and the record; a SQL one in a single round trip, a function in as few as
   * its own queries allow. Otherwise: the head and the fence proven first (nothing can be rolled back), the
   * migration on one connection, then the record in its own transaction.
   */
  async #change(
    migration: Migration<MigrationDb>,
    direction: MigrationDirection,
    options: ApplyOptions<KyselyFence>,
  ): Promise<StoreHead> {
    const module = await migration.load();
    const run = direction === 'up' ? module.up : module.down;
    if (!run) {
      throw new MigError(MigErrorCode.InvalidTarget, `Migration "${migration.name}" has no down migration.`);
    }
    // A revert needs the head it goes back to: the digest of the record before the latest.
    const step: Step = {
      migration,
      direction,
      transactional: module.transactional,
      expected: options.expectedHead,
      fence: options.fence,
      next:
        direction === 'up'
          ? {
              count: options.expectedHead.count + 1,
              digest: nextDigest(options.expectedHead.digest, migration.name, migration.checksum),
            }
          : await this.#headBefore(migration.name, options.expectedHead),
    };
    try {
      if (!module.transactional) return await this.#changeOutside(step, run);
      const script = module.sql?.[direction];
      // The record travels in the same round trip as the migration: its span covers that round trip.
      if (script !== undefined)
        return await this.#recordSpan(step, true, () => this.#changeInOneRoundTrip(step, script));
      return await this.#changeInTransaction(step, run);
    } catch (error) {
      throw await this.#translate(error, step);
    }
  }

  /** A transactional SQL migration: its SQL and mig's statements around it, in one round trip. */
  async #changeInOneRoundTrip(step: Step, script: string): Promise<StoreHead> {
    const settings = await this.#batchSettings();
    const text = batch([
      'BEGIN',
      prologue(this.tables, step.expected, settings),
      step.direction === 'down' ? latestIs(this.tables, step.migration.name) : undefined,
      script,
      ...this.#epilogue(step),
      'COMMIT',
    ]);
    await this.#inTransactionBatch(text);
    return step.next;
  }

  /** A transactional migration written as code: mig's statements before and after it, one round trip each. */
  async #changeInTransaction(step: Step, run: (db: MigrationDb) => Promise<void>): Promise<StoreHead> {
    const settings = await this.#batchSettings();
    return this.#db.transaction().execute(async (trx) => {
      const before = [prologue(this.tables, step.expected, settings)];
      if (step.direction === 'down') before.push(latestIs(this.tables, step.migration.name));
      await sql.raw(batch(before)).execute(trx);
      await this.#explained(run(trx));
      await this.#recordSpan(step, false, () => sql.raw(batch(this.#epilogue(step))).execute(trx));
      return step.next;
    });
  }

  /**
   * Outside a transaction nothing can be rolled back: the head, the order (a revert) and the lock are proven
   * before it starts; then the migration runs on one connection; then its record, in one transaction.
   */
  async #changeOutside(step: Step, run: (db: MigrationDb) => Promise<void>): Promise<StoreHead> {
    const { migration, direction } = step;
    await sql
      .raw(
        batch([
          prologue(this.tables, step.expected, { lockWaitMs: 0, clientCheckMs: 0 }),
          direction === 'down' ? latestIs(this.tables, migration.name) : undefined,
          fenceCheck(this.tables, step.fence),
        ]),
      )
      .execute(this.#db);
    if (direction === 'up') await this.#dropLeftovers(migration);
    const durationMs = await this.#db
      .connection()
      .execute((conn) => timed(() => run(conn)))
      .catch(async (error: unknown) => {
        throw direction === 'up' ? await this.#failedOutside(migration, error) : error;
      });
    const text = batch([
      'BEGIN',
      prologue(this.tables, step.expected, { lockWaitMs: 0, clientCheckMs: 0 }),
      ...this.#epilogue(step, durationMs),
      'COMMIT',
    ]);
    await this.#recordSpan(step, false, () => this.#inTransactionBatch(text));
    return step.next;
  }

  /**
   * Sends a batch that opens and commits its own transaction. It stops at its first error, inside that
   * transaction: the transaction is ended on this same connection, never handed back to the pool open.
   */
  async #inTransactionBatch(text: string): Promise<void> {
    await this.#db.connection().execute(async (conn) => {
      try {
        await this.#explained(sql.raw(text).execute(conn));
      } catch (error) {
        await sql
          .raw('ROLLBACK')
          .execute(conn)
          .catch(() => {});
        throw error;
      }
    });
  }

  /** The `mig.record` span: the round trip that wrote a migration's record. */
  #recordSpan<T>(step: Step, withMigration: boolean, work: () => Promise<T>): Promise<T> {
    const attributes = {
      [Attr.DbSystem]: this.target.system,
      [Attr.DbNamespace]: this.target.namespace,
      [Attr.StoreTable]: this.tables.qualified,
      [Attr.MigrationName]: step.migration.name,
      [Attr.RecordWithMigration]: withMigration,
    };
    if (!withMigration) return withSpan(this.#settings.tracer, SpanName.Record, attributes, work);
    // One round trip did both: the span covers it, and exists only once the record is written (a failure
    // is the migration's, on its own span).
    const startTime = Date.now();
    return work().then((result) => {
      this.#settings.tracer.startSpan(SpanName.Record, { attributes, startTime }).end();
      return result;
    });
  }

  /** The fence check, the record written or removed, the head moved, and the waiters told. */
  #epilogue(step: Step, durationMs?: number): (string | undefined)[] {
    const record =
      step.direction === 'up'
        ? recordApplied(this.tables, step.migration, step.transactional, step.next, durationMs)
        : recordReverted(this.tables, step.migration.name, step.expected);
    return [fenceCheck(this.tables, step.fence), ...record, notify(this.#settings.channel, step.next)];
  }

  /** The head a revert of `name` goes back to; CONFLICT unless `name` is the latest applied. */
  async #headBefore(name: string, expected: StoreHead): Promise<StoreHead> {
    const rows = await this.#assertLatest(this.#db, name);
    return { count: expected.count - 1, digest: rows[1]?.digest ?? EMPTY_DIGEST };
  }

  /** mig's own check errors, back as mig's errors; anything else as it is. */
  async #translate(error: unknown, step: Step): Promise<unknown> {
    const state = sqlState(error);
    if (state === HEAD_MOVED) {
      const found = (await this.readHead().catch(() => null)) ?? { count: -1, digest: '' };
      return new MigrationConflictError(step.migration.name, step.expected, found);
    }
    if (state === NOT_LATEST)
      return this.#assertLatest(this.#db, step.migration.name).then(
        () => error,
        (e) => e,
      );
    if (state === FENCE_LOST && step.fence !== undefined) {
      return step.fence.kind === 'advisory'
        ? new LockLostError(
            step.fence.key,
            'the session running the migration does not hold it. If connections go through a transaction pooler ' +
              '(PgBouncer in transaction mode), session advisory locks do not work: use the lease strategy',
            'session-not-holder',
          )
        : new LockLostError(
            step.fence.key,
            `lease token ${step.fence.token} expired or was taken over by another instance`,
            'expired',
          );
    }
    return error;
  }

  /** lock_timeout and, where the server has it, client_connection_check_interval, for a migration's batch. */
  async #batchSettings(): Promise<BatchSettings> {
    const checkClient = await this.#clientCheckSupported();
    return {
      lockWaitMs: this.#settings.lockWaitTimeoutMs,
      clientCheckMs: checkClient ? this.#settings.clientCheckIntervalMs : 0,
    };
  }

  async record(migrations: readonly Migration<MigrationDb>[], options: RecordOptions<KyselyFence>): Promise<StoreHead> {
    return this.#db.transaction().execute(async (trx) => {
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
      await this.#writeHead(trx, head);
      return head;
    });
  }

  async rewrite(changes: RecordRewrite, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return this.#db.transaction().execute(async (trx) => {
      await this.#lockHead(trx, changes.checksums[0]?.name ?? changes.forget[0] ?? '(none)', options.expectedHead);
      await checkFence(trx, this.tables, options.fence);
      const now = new Date().toISOString();
      for (const { name, checksum } of changes.checksums) {
        const { rows } = await sql<{ checksum: string; repairs: string }>`
          select checksum, repairs from ${this.tables.records} where name = ${name}`.execute(trx);
        const row = rows[0];
        if (!row) throw new MigError(MigErrorCode.Conflict, `"${name}" has no record to repair; nothing was changed.`);
        const repairs = JSON.stringify([...parseRepairs(row.repairs), { checksum: row.checksum, at: now }]);
        await sql`update ${this.tables.records} set checksum = ${checksum}, repairs = ${repairs} where name = ${name}`.execute(
          trx,
        );
      }
      for (const name of changes.forget)
        await sql`delete from ${this.tables.records} where name = ${name}`.execute(trx);
      return this.#rebuildDigests(trx);
    });
  }

  async leftovers(migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]> {
    return invalidIndexesOf(this.#db, migrations);
  }

  /**
   * Before a migration runs outside a transaction: what an earlier failed or killed run of it left (the
   * INVALID index of its CREATE INDEX CONCURRENTLY) is dropped, each logged, so it can run again.
   */
  async #dropLeftovers(migration: Migration<MigrationDb>): Promise<void> {
    for (const leftover of await invalidIndexesOf(this.#db, [migration])) {
      this.#settings.logger.warn(
        { migration: migration.name, dropped: leftover.object, statement: leftover.remove },
        `dropping the invalid index ${leftover.object} that an earlier run of ${migration.name} left behind`,
      );
      await sql.raw(leftover.remove).execute(this.#db);
    }
  }

  /** A migration that failed outside a transaction, with what it left behind named, and how to remove it. */
  async #failedOutside(migration: Migration<MigrationDb>, error: unknown): Promise<unknown> {
    const left = await invalidIndexesOf(this.#db, [migration]).catch(() => []);
    if (left.length === 0) return error;
    const listed = left.map((l) => `${l.object} (to remove it yourself: ${l.remove};)`).join(', ');
    const what = left.length === 1 ? 'an invalid index' : `${left.length} invalid indexes`;
    const note = `It left ${what} behind: ${listed}. mig drops ${left.length === 1 ? 'it' : 'them'} itself before it runs this migration again`;
    return new MigrationFailedError(migration.name, 'up', error, false, note);
  }

  async foreignHistories(): Promise<readonly ForeignHistorySummary[]> {
    return detectForeignHistories(this.#db);
  }

  /** After a rewrite: every record's digest again from the first, and the head from the last. */
  async #rebuildDigests(trx: MigrationDb): Promise<StoreHead> {
    const { rows } = await sql<{ id: string; name: string; checksum: string; digest: string }>`
      select id, name, checksum, digest from ${this.tables.records} order by id`.execute(trx);
    let digest = EMPTY_DIGEST;
    for (const row of rows) {
      digest = nextDigest(digest, row.name, row.checksum);
      if (row.digest !== digest) {
        await sql`update ${this.tables.records} set digest = ${digest} where id = ${row.id}`.execute(trx);
      }
    }
    const head = { count: rows.length, digest };
    await this.#writeHead(trx, head);
    return head;
  }

  async #writeHead(trx: MigrationDb, head: StoreHead): Promise<void> {
    await sql`
      update ${this.tables.head} set applied_count = ${head.count}, digest = ${head.digest}, updated_at = now()
      where id = 1`.execute(trx);
  }

  /** Refuses (CONFLICT) unless `name` is the latest applied migration; returns the two latest records. */
  async #assertLatest(db: MigrationDb, name: string): Promise<Array<{ name: string; digest: string }>> {
    const { rows } = await sql<{ name: string; digest: string }>`
      select name, digest from ${this.tables.records} order by id desc limit 2`.execute(db);
    if (rows[0]?.name !== name) {
      throw new MigError(
        MigErrorCode.Conflict,
        `Cannot revert "${name}": the latest applied migration is ${rows[0] ? `"${rows[0].name}"` : 'none'}. Revert in reverse order; nothing was changed.`,
        { context: { migration: name, latest: rows[0]?.name ?? null } },
      );
    }
    return rows;
  }

  async preview(migration: Migration<MigrationDb>, direction: 'up' | 'down'): Promise<readonly string[] | undefined> {
    const module = await migration.load();
    const run = direction === 'up' ? module.up : module.down;
    if (!run) return undefined;
    if (direction === 'up' && migration.sql !== undefined) return [migration.sql];
    return previewQueries(run);
  }

  /** A lock timeout inside a migration, said plainly: what it waited for and what to do. */
  async #explained(work: Promise<unknown>): Promise<void> {
    try {
      await work;
    } catch (error) {
      if (sqlState(error) !== '55P03') throw error;
      throw new Error(
        `${describeThrown(error)}: it waited more than ${this.#settings.lockWaitTimeoutMs} ms for a lock that another ` +
          'session holds (a long transaction on a table it changes; see pg_stat_activity). Retry when that session ' +
          'ends, or raise lockWaitTimeoutMs',
        { cause: error },
      );
    }
  }

  #clientCheckSupported(): Promise<boolean> {
    if (this.#settings.clientCheckIntervalMs <= 0) return Promise.resolve(false);
    this.#settings.clientCheckSupported ??= sql<{ supported: boolean }>`
      select exists (select 1 from pg_catalog.pg_settings where name = 'client_connection_check_interval') as supported`
      .execute(this.#db)
      .then((r) => r.rows[0]?.supported === true)
      .catch(() => false);
    return this.#settings.clientCheckSupported;
  }

  /** Locks the head row for this transaction and checks it is where the caller expects it. */
  async #lockHead(trx: MigrationDb, name: string, expected: StoreHead): Promise<StoreHead> {
    const { rows } = await sql<HeadRow>`
      select applied_count, digest from ${this.tables.head} where id = 1 for update`.execute(trx);
    const row = rows[0];
    const head = row ? { count: Number(row.applied_count), digest: row.digest } : { count: 0, digest: EMPTY_DIGEST };
    if (head.count !== expected.count || head.digest !== expected.digest) {
      throw new MigrationConflictError(name, expected, head);
    }
    return head;
  }

  #error(action: string, error: unknown): MigError {
    if (isMigError(error)) return error;
    return new MigError(
      MigErrorCode.Store,
      `mig could not ${action} (database "${this.target.namespace}", table ${this.tables.qualified}): ${describeThrown(error)}`,
      { cause: error, context: { table: this.tables.qualified } },
    );
  }
}

/** One migration's run: what it is, which way, on which head, under which fence, and the head it leads to. */
interface Step {
  readonly migration: Migration<MigrationDb>;
  readonly direction: MigrationDirection;
  readonly transactional: boolean;
  readonly expected: StoreHead;
  readonly fence: KyselyFence;
  readonly next: StoreHead;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}
