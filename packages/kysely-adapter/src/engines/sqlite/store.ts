import { isMigError, type Migration, MigrationConflictError } from '@mig/core';
import {
  type ApplyOptions,
  EMPTY_DIGEST,
  EMPTY_HEAD,
  type Leftover,
  nextDigest,
  type RecordOptions,
  type RecordRewrite,
  type StoreHead,
} from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { KyselyFence } from '../../fence.js';
import { runStatements } from '../../sql/run-statements.js';
import {
  type AllHooks,
  type EngineSettings,
  notLatest,
  type Step,
  type StoreEngine,
  throwIfStopped,
  timed,
} from '../../store-engine.js';
import { StoreReads } from '../../store-reads.js';
import type { StoreTables } from '../../tables.js';
import { checkSqliteFence } from './lease.js';
import { splitSqliteStatements } from './split.js';
import { beginImmediate, explainBusy, immediate, isNoSuchTable, isSqliteBusy, rollback, SQLITE_NOW } from './sql.js';
import { sqliteTableStatements } from './tables.js';

/**
 * mig's store SQL on a SQLite file that several processes may share. Every write is a BEGIN IMMEDIATE
 * transaction (the file's write lock taken up front, so two writers never deadlock on an upgrade), with the
 * head compared and swapped inside it: a migration and its record commit together or not at all (SQLite's
 * DDL is transactional), and two processes can never record on the same head.
 */
export function createSqliteStoreEngine(tables: StoreTables, settings: EngineSettings): StoreEngine {
  return new SqliteStoreEngine(tables, settings);
}

class SqliteStoreEngine extends StoreReads implements StoreEngine {
  readonly tables: StoreTables;
  readonly #settings: EngineSettings;

  constructor(tables: StoreTables, settings: EngineSettings) {
    super();
    this.tables = tables;
    this.#settings = settings;
  }

  /** Longest wait for the file's write lock: lockWaitTimeoutMs, where 0 means no limit. */
  get #waitMs(): number {
    const ms = this.#settings.lockWaitTimeoutMs;
    return ms > 0 ? ms : Number.POSITIVE_INFINITY;
  }

  async createTables(db: MigrationDb, fromVersion: number | null): Promise<void> {
    const t = this.tables;
    const create = sqliteTableStatements(t);
    await immediate(db, { waitMs: this.#waitMs }, async (conn) => {
      await create.records.execute(conn);
      if (fromVersion === 1) await this.#addVersion2Columns(conn);
      await create.head.execute(conn);
      await create.lock.execute(conn);
      await create.headRow.execute(conn);
    });
  }

  /** Tables of version 1 get what version 2 added (SQLite has no ADD COLUMN IF NOT EXISTS: look first). */
  async #addVersion2Columns(conn: MigrationDb): Promise<void> {
    const { rows } = await sql<{ name: string }>`
      select name from pragma_table_info(${this.tables.table})`.execute(conn);
    const have = new Set(rows.map((r) => r.name));
    const added: Record<string, string> = {
      origin: "text not null default 'applied'",
      adopted_from: 'text',
      runnable: 'integer not null default 1',
      repairs: "text not null default '[]'",
    };
    for (const [column, type] of Object.entries(added)) {
      if (!have.has(column)) {
        await sql`alter table ${this.tables.records} add column ${sql.id(column)} ${sql.raw(type)}`.execute(conn);
      }
    }
  }

  isRetryableCreate(error: unknown): boolean {
    return isSqliteBusy(error);
  }

  isUndefinedTable(error: unknown): boolean {
    return isNoSuchTable(error);
  }

  async changeInTransaction(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    await db.connection().execute(async (conn) => {
      step.running.conn = conn;
      await this.#begin(conn);
      try {
        const since = await this.#proveStep(conn, step);
        const durationMs = await timed(() => this.#runMigration(conn, step, run, true));
        await step.recordSpan(false, async () => {
          // Checked again right before the record; and the lease gets back the time this transaction held
          // the write lock, while its heartbeat waited behind the migration.
          await checkSqliteFence(conn, this.tables, step.fence, since, { extend: true });
          await this.#writeRecord(conn, step, durationMs);
        });
        await sql.raw('COMMIT').execute(conn);
      } catch (error) {
        await rollback(conn);
        throw error;
      }
    });
  }

  async changeAll(
    db: MigrationDb,
    steps: readonly Step[],
    run: (step: Step, db: MigrationDb) => Promise<void>,
    hooks: AllHooks,
  ): Promise<void> {
    const [first, last] = [steps[0], steps.at(-1)];
    if (first === undefined || last === undefined) return;
    await db.connection().execute(async (conn) => {
      first.running.conn = conn;
      await this.#begin(conn);
      try {
        const since = await this.#proveStep(conn, first);
        for (const step of steps) {
          throwIfStopped(step);
          hooks.onStart(step);
          const durationMs = await timed(() => this.#runMigration(conn, step, (trx) => run(step, trx), true));
          await this.#writeRecord(conn, step, durationMs);
          hooks.onRan(step, durationMs);
        }
        await last.recordSpan(false, () => checkSqliteFence(conn, this.tables, last.fence, since, { extend: true }));
        await sql.raw('COMMIT').execute(conn);
      } catch (error) {
        await rollback(conn);
        throw error;
      }
    });
  }

  async changeOutside(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    // Proven before it runs, with reads only: nothing could undo it once it has run.
    await db.connection().execute((conn) => this.#proveStep(conn, step));
    const durationMs = await timed(() => this.#runMigration(db, step, run, false));
    await step.recordSpan(false, () =>
      immediate(db, { waitMs: this.#waitMs }, async (conn) => {
        const since = await this.#checkHead(conn, step.migration.name, step.expected);
        await checkSqliteFence(conn, this.tables, step.fence, since, { extend: true });
        await this.#writeRecord(conn, step, durationMs);
      }),
    );
  }

  /** BEGIN IMMEDIATE for a migration, a wait past lockWaitTimeoutMs said plainly. */
  async #begin(conn: MigrationDb): Promise<void> {
    const started = performance.now();
    await beginImmediate(conn, this.#waitMs).catch((error: unknown) => {
      throw explainBusy(error, performance.now() - started);
    });
  }

  /** The head where the step expects it, the order for a revert, and the fence; returns SQLite's now. */
  async #proveStep(conn: MigrationDb, step: Step): Promise<string> {
    const since = await this.#checkHead(conn, step.migration.name, step.expected);
    if (step.direction === 'down') await this.#checkLatest(conn, step.migration.name);
    await checkSqliteFence(conn, this.tables, step.fence, since, { extend: false });
    return since;
  }

  /** A SQL migration statement by statement (SQLite prepares one at a time), a code migration as it is. */
  async #runMigration(
    db: MigrationDb,
    step: Step,
    run: (db: MigrationDb) => Promise<void>,
    inTransaction: boolean,
  ): Promise<void> {
    if (step.script === undefined) {
      await run(db);
      throwIfStopped(step);
      return;
    }
    const statements = splitSqliteStatements(step.script);
    const options = { inTransaction, beforeEach: () => throwIfStopped(step) };
    // In mig's transaction `db` is its connection already; outside one, a file that opens its own
    // transaction must end it on the connection it began on.
    if (inTransaction) await runStatements(db, step, statements, options);
    else await db.connection().execute((conn) => runStatements(conn, step, statements, options));
  }

  /**
   * Ends a running step on its own connection: SQLite runs in this process, and a statement that runs holds
   * the event loop, so a stop comes between statements, where a ROLLBACK ends the step's transaction (and
   * the step starts nothing more).
   */
  async stop(_db: MigrationDb, step: Step): Promise<void> {
    if (step.transactional && step.running.conn) await sql.raw('ROLLBACK').execute(step.running.conn);
  }

  /** CONFLICT unless the head is `expected`; returns SQLite's now, read in the same statement. */
  async #checkHead(conn: MigrationDb, name: string, expected: StoreHead): Promise<string> {
    const { rows } = await sql<{ applied_count: number | null; digest: string | null; now: string }>`
      select h.applied_count, h.digest, ${SQLITE_NOW} as now
      from (select 1) as one left join ${this.tables.head} h on h.id = 1`.execute(conn);
    const row = rows[0];
    const head = row?.digest ? { count: Number(row.applied_count), digest: row.digest } : EMPTY_HEAD;
    if (head.count !== expected.count || head.digest !== expected.digest) {
      throw new MigrationConflictError(name, expected, head);
    }
    return row?.now ?? new Date().toISOString();
  }

  async #checkLatest(conn: MigrationDb, name: string): Promise<void> {
    const [latest] = await this.latest(conn, 1);
    if (latest?.name !== name) throw notLatest(name, latest?.name ?? null);
  }

  /** The record written (up) or removed (down), and the head moved. */
  async #writeRecord(conn: MigrationDb, step: Step, durationMs: number): Promise<void> {
    const { records } = this.tables;
    const { migration } = step;
    if (step.direction === 'up') {
      await sql`
        insert into ${records} (name, checksum, digest, transactional, duration_ms)
        values (${migration.name}, ${migration.checksum}, ${step.next.digest}, ${step.transactional ? 1 : 0},
                ${Math.round(durationMs)})`.execute(conn);
      await this.#writeHead(conn, step.next);
      return;
    }
    await sql`delete from ${records} where name = ${migration.name}`.execute(conn);
    await sql`
      update ${this.tables.head} set applied_count = ${step.expected.count - 1},
        digest = coalesce((select digest from ${records} order by id desc limit 1), ${EMPTY_DIGEST}),
        updated_at = ${SQLITE_NOW}
      where id = 1`.execute(conn);
  }

  async #writeHead(conn: MigrationDb, head: StoreHead): Promise<void> {
    await sql`
      update ${this.tables.head} set applied_count = ${head.count}, digest = ${head.digest}, updated_at = ${SQLITE_NOW}
      where id = 1`.execute(conn);
  }

  async record(
    db: MigrationDb,
    migrations: readonly Migration<MigrationDb>[],
    options: RecordOptions<KyselyFence>,
  ): Promise<StoreHead> {
    return immediate(db, { waitMs: this.#waitMs }, async (conn) => {
      const since = await this.#checkHead(conn, migrations[0]?.name ?? '(none)', options.expectedHead);
      await checkSqliteFence(conn, this.tables, options.fence, since, { extend: false });
      let head = options.expectedHead;
      for (const m of migrations) {
        const next = { count: head.count + 1, digest: nextDigest(head.digest, m.name, m.checksum) };
        await sql`
          insert into ${this.tables.records}
            (name, checksum, digest, transactional, duration_ms, origin, adopted_from, runnable)
          values (${m.name}, ${m.checksum}, ${next.digest}, 1, null, ${options.origin},
                  ${options.adoptedFrom ?? null}, ${options.runnable ? 1 : 0})`.execute(conn);
        head = next;
      }
      await this.#writeHead(conn, head);
      return head;
    });
  }

  async rewrite(db: MigrationDb, changes: RecordRewrite, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return immediate(db, { waitMs: this.#waitMs }, async (conn) => {
      const name = changes.checksums[0]?.name ?? changes.forget[0] ?? '(none)';
      const since = await this.#checkHead(conn, name, options.expectedHead);
      await checkSqliteFence(conn, this.tables, options.fence, since, { extend: false });
      const head = await this.rewriteRecords(conn, changes);
      await this.#writeHead(conn, head);
      return head;
    });
  }

  /** SQLite leaves nothing half-built behind a failed migration that mig could attribute: none. */
  async leftovers(_db: MigrationDb, _migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]> {
    return [];
  }

  async translate(_db: MigrationDb, error: unknown, _step: Step): Promise<unknown> {
    if (isMigError(error)) return error;
    return explainBusy(error, this.#settings.lockWaitTimeoutMs);
  }
}
