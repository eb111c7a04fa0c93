import { isMigError, MigError, MigErrorCode, type Migration, MigrationConflictError } from '@mig/core';
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
import { type CompiledQuery, sql } from 'kysely';
import { captureQueries } from '../../capture-queries.js';
import type { MigrationDb } from '../../db.js';
import type { KyselyFence } from '../../fence.js';
import { applyAllInOneRequest } from '../../one-request.js';
import {
  type AllHooks,
  type EngineSettings,
  notLatest,
  parseRepairs,
  type Step,
  type StoreEngine,
  throwIfStopped,
  timed,
} from '../../store-engine.js';
import { StoreReads } from '../../store-reads.js';
import type { StoreTables } from '../../tables.js';
import { splitSqliteStatements } from '../sqlite/split.js';
import { SQLITE_NOW } from '../sqlite/sql.js';
import { sqliteTableStatements } from '../sqlite/tables.js';
import {
  createGuardTable,
  type D1Query,
  failedGuard,
  fenceGuard,
  headGuard,
  latestGuard,
  rehearsalEnd,
  runBatch,
  runOne,
} from './batch.js';
import { bindingOf } from './binding.js';

/**
 * mig's store SQL on Cloudflare D1, which has no interactive transaction. A transactional migration goes to
 * D1 as one `batch()`: the head compare-and-swap and the lease check first (see `batch.ts`), the migration's
 * statements (a SQL file split as SQLite reads it; a code migration's queries, captured), its record and the
 * head moved, all committed together or not at all.
 */
export function createD1StoreEngine(tables: StoreTables, _settings: EngineSettings): StoreEngine {
  return new D1StoreEngine(tables);
}

class D1StoreEngine extends StoreReads implements StoreEngine {
  readonly tables: StoreTables;

  constructor(tables: StoreTables) {
    super();
    this.tables = tables;
  }

  async createTables(db: MigrationDb, _fromVersion: number | null): Promise<void> {
    // No mig before this one wrote to D1: there are no version 1 tables to bring up to date.
    const t = this.tables;
    const create = sqliteTableStatements(t);
    await runBatch(bindingOf(db), db, [create.records, create.head, create.lock, createGuardTable(t), create.headRow]);
  }

  isRetryableCreate(): boolean {
    // One batch, and D1 runs one at a time: two creators never race inside it.
    return false;
  }

  isUndefinedTable(error: unknown): boolean {
    return /\bno such table\b/i.test(String((error as { message?: unknown } | null)?.message ?? ''));
  }

  async changeInTransaction(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    const statements = await this.#migrationStatements(db, step, run);
    throwIfStopped(step);
    await step.recordSpan(true, () =>
      this.#guarded(db, step.migration.name, step, [
        ...this.#proof(step),
        ...statements,
        ...this.#recordWrite(step, undefined),
      ]),
    );
  }

  /**
   * Every step in one batch (`transaction: 'all'`): the first step's checks, then each migration and its
   * record in order, committed together or not at all. A batch does not say which of its statements failed:
   * then the steps are sent again, one more each time, in batches that end in a check that always fails (so
   * nothing commits), until the failure shows up, and it is reported as that migration's.
   */
  async changeAll(
    db: MigrationDb,
    steps: readonly Step[],
    run: (step: Step, db: MigrationDb) => Promise<void>,
    hooks: AllHooks,
  ): Promise<void> {
    const first = steps[0];
    if (first === undefined) return;
    await applyAllInOneRequest(steps, hooks, {
      proof: this.#proof(first),
      part: async (step) => [
        ...(await this.#migrationStatements(db, step, (trx) => run(step, trx))),
        ...this.#recordWrite(step, undefined),
      ],
      send: (queries) => this.#guarded(db, first.migration.name, first, queries),
      // mig's own checks come first and are translated already; anything else is one migration's failure.
      isCheck: isMigError,
      rehearse: (queries) =>
        runBatch(bindingOf(db), db, [...queries, rehearsalEnd(this.tables)]).then(
          () => false,
          (error: unknown) => failedGuard(error) !== 'rehearsal',
        ),
    });
  }

  /** The migration's statements: a SQL file split as SQLite reads it, or a code migration's queries. */
  async #migrationStatements(
    db: MigrationDb,
    step: Step,
    run: (db: MigrationDb) => Promise<void>,
  ): Promise<readonly (string | CompiledQuery)[]> {
    if (step.script !== undefined) return splitSqliteStatements(step.script).map((s) => s.text);
    return captureQueries(db, step.migration.name, run);
  }

  /** The checks that open a step's batch: the head, the order for a revert, the lease. */
  #proof(step: Step): D1Query[] {
    const checks: D1Query[] = [headGuard(this.tables, step.expected)];
    if (step.direction === 'down') checks.push(latestGuard(this.tables, step.migration.name));
    const fence = fenceGuard(this.tables, step.fence);
    if (fence) checks.push(fence);
    return checks;
  }

  async changeOutside(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    // Proven before it runs, with reads only: nothing could undo it once it has run. Each statement then
    // commits on its own, as D1 runs every statement outside a batch.
    await this.#prove(db, step);
    const durationMs = await timed(async () => {
      if (step.script === undefined) {
        await run(db);
      } else {
        const database = bindingOf(db);
        for (const statement of splitSqliteStatements(step.script)) {
          throwIfStopped(step);
          await runOne(database, db, statement.text);
        }
      }
      throwIfStopped(step);
    });
    await step.recordSpan(false, () =>
      this.#guarded(db, step.migration.name, step, [...this.#proof(step), ...this.#recordWrite(step, durationMs)]),
    );
  }

  /** The checks of {@link #proof}, as reads, for a step that cannot be undone once it runs. */
  async #prove(db: MigrationDb, step: Step): Promise<void> {
    const head = (await this.readHead(db)) ?? EMPTY_HEAD;
    if (head.count !== step.expected.count || head.digest !== step.expected.digest) {
      throw new MigrationConflictError(step.migration.name, step.expected, head);
    }
    if (step.direction === 'down') {
      const [latest] = await this.latest(db, 1);
      if (latest?.name !== step.migration.name) throw notLatest(step.migration.name, latest?.name ?? null);
    }
    const fence = fenceGuard(this.tables, step.fence);
    if (fence === undefined || step.fence?.kind !== 'lease') return;
    const { rows } = await sql`
      select 1 from ${this.tables.lock}
      where key = ${step.fence.key} and token = ${Number(step.fence.token)} and expires_at > ${SQLITE_NOW}`.execute(db);
    if (rows.length === 0) throw lockLost.leaseExpired(step.fence.key, step.fence.token);
  }

  /** The record written (up) or removed (down), and the head moved. */
  #recordWrite(step: Step, durationMs: number | undefined): D1Query[] {
    const { records, head } = this.tables;
    const { migration } = step;
    if (step.direction === 'up') {
      return [
        sql`
          insert into ${records} (name, checksum, digest, transactional, duration_ms)
          values (${migration.name}, ${migration.checksum}, ${step.next.digest}, ${step.transactional ? 1 : 0},
                  ${durationMs === undefined ? null : Math.round(durationMs)})`,
        this.#headWrite(step.next),
      ];
    }
    return [
      sql`delete from ${records} where name = ${migration.name}`,
      sql`
        update ${head} set applied_count = ${step.expected.count - 1},
          digest = coalesce((select digest from ${records} order by id desc limit 1), ${EMPTY_DIGEST}),
          updated_at = ${SQLITE_NOW}
        where id = 1`,
    ];
  }

  #headWrite(next: StoreHead): D1Query {
    return sql`
      update ${this.tables.head} set applied_count = ${next.count}, digest = ${next.digest}, updated_at = ${SQLITE_NOW}
      where id = 1`;
  }

  /** One batch; a check that failed in it comes back as mig's error (CONFLICT, LOCK_LOST), read after. */
  async #guarded(
    db: MigrationDb,
    name: string,
    checked: { readonly expected: StoreHead; readonly fence: KyselyFence },
    queries: readonly D1Query[],
  ): Promise<void> {
    try {
      await runBatch(bindingOf(db), db, queries);
    } catch (error) {
      const guard = failedGuard(error);
      if (guard === 'conflict') {
        throw new MigrationConflictError(name, checked.expected, (await this.readHead(db)) ?? EMPTY_HEAD);
      }
      if (guard === 'notLatest') {
        const [latest] = await this.latest(db, 1);
        throw notLatest(name, latest?.name ?? null);
      }
      if (guard === 'lockLost' && checked.fence?.kind === 'lease') {
        throw lockLost.leaseExpired(checked.fence.key, checked.fence.token);
      }
      throw error;
    }
  }

  async record(
    db: MigrationDb,
    migrations: readonly Migration<MigrationDb>[],
    options: RecordOptions<KyselyFence>,
  ): Promise<StoreHead> {
    const checked = { expected: options.expectedHead, fence: options.fence };
    const queries: D1Query[] = [headGuard(this.tables, options.expectedHead)];
    const fence = fenceGuard(this.tables, options.fence);
    if (fence) queries.push(fence);
    let head = options.expectedHead;
    for (const m of migrations) {
      const next = { count: head.count + 1, digest: nextDigest(head.digest, m.name, m.checksum) };
      queries.push(sql`
        insert into ${this.tables.records}
          (name, checksum, digest, transactional, duration_ms, origin, adopted_from, runnable)
        values (${m.name}, ${m.checksum}, ${next.digest}, 1, null, ${options.origin},
                ${options.adoptedFrom ?? null}, ${options.runnable ? 1 : 0})`);
      head = next;
    }
    queries.push(this.#headWrite(head));
    await this.#guarded(db, migrations[0]?.name ?? '(none)', checked, queries);
    return head;
  }

  /**
   * A repair, computed from the records as read and written in one batch that first checks the head: the
   * head covers every record (its digest is the last one's), so records that changed since the read fail
   * the check and nothing is written.
   */
  async rewrite(db: MigrationDb, changes: RecordRewrite, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    const name = changes.checksums[0]?.name ?? changes.forget[0] ?? '(none)';
    const rows = await this.readRecords(db);
    const now = new Date().toISOString();
    const forget = new Set(changes.forget);
    const queries: D1Query[] = [headGuard(this.tables, options.expectedHead)];
    const fence = fenceGuard(this.tables, options.fence);
    if (fence) queries.push(fence);
    let digest = EMPTY_DIGEST;
    let count = 0;
    for (const row of rows) {
      if (forget.has(row.name)) {
        queries.push(sql`delete from ${this.tables.records} where name = ${row.name}`);
        continue;
      }
      const repaired = changes.checksums.find((c) => c.name === row.name);
      const checksum = repaired?.checksum ?? row.checksum;
      digest = nextDigest(digest, row.name, checksum);
      count++;
      if (repaired !== undefined) {
        const repairs = JSON.stringify([...parseRepairs(row.repairs), { checksum: row.checksum, at: now }]);
        queries.push(sql`
          update ${this.tables.records} set checksum = ${checksum}, repairs = ${repairs}, digest = ${digest}
          where name = ${row.name}`);
      } else if (digest !== row.digest) {
        queries.push(sql`update ${this.tables.records} set digest = ${digest} where name = ${row.name}`);
      }
    }
    const missing = changes.checksums.find((c) => !rows.some((r) => r.name === c.name));
    if (missing)
      throw new MigError(MigErrorCode.Conflict, `"${missing.name}" has no record to repair; nothing was changed.`);
    const head = { count, digest };
    queries.push(this.#headWrite(head));
    await this.#guarded(db, name, { expected: options.expectedHead, fence: options.fence }, queries);
    return head;
  }

  /** D1 leaves nothing half-built behind a failed batch: none. */
  async leftovers(_db: MigrationDb, _migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]> {
    return [];
  }

  async translate(_db: MigrationDb, error: unknown, _step: Step): Promise<unknown> {
    // mig's checks were translated where the batch failed; anything else is the migration's own.
    return error;
  }
}
