import { randomInt } from 'node:crypto';
import { isMigError, MigError, MigErrorCode, type Migration, MigrationConflictError } from '@mig/core';
import {
  type ApplyOptions,
  EMPTY_DIGEST,
  type Leftover,
  lockLost,
  nextDigest,
  type RecordOptions,
  type RecordRewrite,
  type StoreHead,
} from '@mig/core/adapter';
import { type CompiledQuery, sql } from 'kysely';
import { type CaptureTarget, captureQueries } from '../../capture-queries.js';
import type { MigrationDb } from '../../db.js';
import type { KyselyFence } from '../../fence.js';
import { applyAllInOneRequest } from '../../one-request.js';
import { runStatements, withNote } from '../../sql/run-statements.js';
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
import {
  type BatchSettings,
  FENCE_LOST,
  fenceCheck,
  HEAD_MOVED,
  latestIs,
  literal,
  NOT_LATEST,
  prologue,
  recordApplied,
  recordReverted,
  writeHead,
} from '../postgres/batch.js';
import { isConcurrentCreate, isSessionEnded, isUndefinedTable, sqlState } from '../postgres/errors.js';
import { invalidIndexesOf } from '../postgres/leftovers.js';
import { postgresAttempts, type StepMarker, withLockAttempts } from '../postgres/lock-attempts.js';
import { splitPostgresStatements } from '../postgres/split.js';
import { createStoreTables } from '../postgres/store.js';
import { type HttpQuery, sendOne, sendTransaction } from './runner.js';

/** First key of the transaction-level advisory lock that marks a running step (as on PostgreSQL): "mih". */
const STEP_MARKER_CLASS_ID = 0x6d6968;

/** Raised by the statement that ends a rehearsal (see `changeAll`): nothing before it commits. */
const REHEARSAL_END = 'MG009';

/** How a code migration's captured queries are worded when one is refused. */
const CAPTURE: CaptureTarget = {
  engine: "Neon's HTTP mode",
  carrier: 'one transaction request',
  instead:
    "Or run mig over Neon's WebSocket mode (a neon:// URL, or Neon's Pool), where a code migration runs inside an interactive transaction.",
};

/**
 * mig's store on PostgreSQL through Neon's HTTP mode, which has no session and no interactive transaction.
 * A transactional migration goes as one `transaction([...])` request, which Neon runs as one database
 * transaction: PostgreSQL's own checks first (the head locked and compared, for a revert the order, as DO
 * blocks that raise mig's SQLSTATEs), the migration's statements (a SQL file split as PostgreSQL reads it, or
 * a code migration's queries, captured), the lease fence, the record and the head moved. The checks are the
 * statements the PostgreSQL store sends (`postgres/batch.ts`), and their errors are turned back into mig's.
 */
export class NeonHttpStoreEngine extends StoreReads implements StoreEngine {
  readonly tables: StoreTables;
  readonly #settings: EngineSettings;

  constructor(tables: StoreTables, settings: EngineSettings) {
    super();
    this.tables = tables;
    this.#settings = settings;
  }

  async createTables(db: MigrationDb, fromVersion: number | null): Promise<void> {
    const { schema } = this.tables;
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists: look first.
    const ensureSchema =
      schema === undefined
        ? undefined
        : `DO $mig$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${literal(schema)}) ` +
          `THEN EXECUTE 'CREATE SCHEMA IF NOT EXISTS ' || quote_ident(${literal(schema)}); END IF; END $mig$`;
    await sendTransaction(db, [ensureSchema, ...createStoreTables(this.tables, fromVersion)]);
  }

  isRetryableCreate(error: unknown): boolean {
    return isConcurrentCreate(error);
  }

  isUndefinedTable(error: unknown): boolean {
    return isUndefinedTable(error);
  }

  async changeInTransaction(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    const statements = await this.#migrationStatements(db, step, run);
    const marker = markerOf(step);
    const { ddlLockTimeoutMs, lockWaitTimeoutMs } = this.#settings;
    // Each attempt a whole transaction: one that runs out of its lock timeout is rolled back, and tried again.
    await withLockAttempts(
      postgresAttempts({ attemptMs: ddlLockTimeoutMs, budgetMs: lockWaitTimeoutMs }, step, marker),
      async (lockWaitMs) => {
        throwIfStopped(step);
        const settings = { lockWaitMs, clientCheckMs: 0, marker, statementMs: step.statementTimeoutMs };
        await step.recordSpan(true, () =>
          sendTransaction(db, [...this.#proof(step, settings), ...statements, ...this.#epilogue(step)]),
        );
      },
    );
  }

  /**
   * Every step in one transaction request (`transaction: 'all'`): the first step's checks, each migration and
   * its record in order, the fence after the last, one commit. A transaction request does not say which of
   * its statements failed: then the steps are sent again, one more each time, in requests that end in a
   * statement that always fails (so nothing commits), until the failure shows up in one migration's part.
   */
  async changeAll(
    db: MigrationDb,
    steps: readonly Step[],
    run: (step: Step, db: MigrationDb) => Promise<void>,
    hooks: AllHooks,
  ): Promise<void> {
    const first = steps[0];
    const last = steps.at(-1);
    if (first === undefined || last === undefined) return;
    // Each record's duration from its own migration's start, not the transaction's.
    const restart = `SELECT set_config('mig.started', clock_timestamp()::text, true)`;
    const end = `DO $mig$ BEGIN RAISE EXCEPTION USING ERRCODE = '${REHEARSAL_END}', MESSAGE = 'mig: rehearsal'; END $mig$`;
    await applyAllInOneRequest<HttpQuery>(steps, hooks, {
      proof: this.#proof(first, { lockWaitMs: this.#settings.lockWaitTimeoutMs, clientCheckMs: 0 }),
      part: async (step) => [
        restart,
        ...(await this.#migrationStatements(db, step, (trx) => run(step, trx))),
        ...recordApplied(this.tables, step.migration, step.transactional, step.next),
      ],
      send: (queries) => sendTransaction(db, [...queries, fenceCheck(this.tables, last.fence)]),
      isCheck: isMigCheck,
      rehearse: (queries) =>
        sendTransaction(db, [...queries, end]).then(
          () => false,
          (error: unknown) => sqlState(error) !== REHEARSAL_END,
        ),
    });
  }

  async changeOutside(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    const { migration, direction } = step;
    const noWaits = { lockWaitMs: 0, clientCheckMs: 0 };
    // Proven before it runs: nothing could undo it once it has run.
    await sendTransaction(db, [...this.#proof(step, noWaits), fenceCheck(this.tables, step.fence)]);
    if (direction === 'up') await this.#dropLeftovers(db, migration);
    // Each statement its own request, committed on its own: CREATE INDEX CONCURRENTLY refuses a transaction.
    const durationMs = await timed(async () => {
      if (step.script === undefined) return run(db);
      await runStatements(db, step, splitPostgresStatements(step.script), {
        inTransaction: false,
        beforeEach: () => throwIfStopped(step),
        sessionEnded: isSessionEnded,
        execute: (text) => sendOne(db, text),
      });
    }).catch(async (error: unknown) => {
      throw direction === 'up' ? await this.#failedOutside(db, migration, error) : error;
    });
    throwIfStopped(step);
    await step.recordSpan(false, () =>
      sendTransaction(db, [...this.#proof(step, noWaits), ...this.#epilogue(step, durationMs)]),
    );
  }

  async record(
    db: MigrationDb,
    migrations: readonly Migration<MigrationDb>[],
    options: RecordOptions<KyselyFence>,
  ): Promise<StoreHead> {
    const queries: HttpQuery[] = [];
    let head = options.expectedHead;
    for (const m of migrations) {
      const next = { count: head.count + 1, digest: nextDigest(head.digest, m.name, m.checksum) };
      queries.push(sql`
        insert into ${this.tables.records} (name, checksum, digest, transactional, duration_ms, origin, adopted_from, runnable)
        values (${m.name}, ${m.checksum}, ${next.digest}, true, null, ${options.origin}, ${options.adoptedFrom ?? null}, ${options.runnable})`);
      head = next;
    }
    await this.#checked(db, migrations[0]?.name ?? '(none)', options, [...queries, writeHead(this.tables, head)]);
    return head;
  }

  /**
   * A repair, computed from the records as read and written in one transaction that first checks the head:
   * the head covers every record (its digest is the last one's), so records that changed since the read fail
   * the check and nothing is written.
   */
  async rewrite(db: MigrationDb, changes: RecordRewrite, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    const rows = await this.readRecords(db);
    const missing = changes.checksums.find((c) => !rows.some((r) => r.name === c.name));
    if (missing) {
      throw new MigError(MigErrorCode.Conflict, `"${missing.name}" has no record to repair; nothing was changed.`);
    }
    const now = new Date().toISOString();
    const forget = new Set(changes.forget);
    const queries: HttpQuery[] = [];
    let head = { count: 0, digest: EMPTY_DIGEST };
    for (const row of rows) {
      if (forget.has(row.name)) {
        queries.push(sql`delete from ${this.tables.records} where name = ${row.name}`);
        continue;
      }
      const repaired = changes.checksums.find((c) => c.name === row.name);
      const checksum = repaired?.checksum ?? row.checksum;
      head = { count: head.count + 1, digest: nextDigest(head.digest, row.name, checksum) };
      const repairs = repaired
        ? JSON.stringify([...parseRepairs(row.repairs), { checksum: row.checksum, at: now }])
        : (row.repairs ?? '[]');
      if (repaired !== undefined || head.digest !== row.digest) {
        queries.push(sql`
          update ${this.tables.records} set checksum = ${checksum}, repairs = ${repairs}, digest = ${head.digest}
          where name = ${row.name}`);
      }
    }
    const name = changes.checksums[0]?.name ?? changes.forget[0] ?? '(none)';
    await this.#checked(db, name, options, [...queries, writeHead(this.tables, head)]);
    return head;
  }

  leftovers(db: MigrationDb, migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]> {
    return invalidIndexesOf(db, migrations);
  }

  async translate(db: MigrationDb, error: unknown, step: Step): Promise<unknown> {
    return this.#translated(db, error, step.migration.name, step);
  }

  /** mig's checks, failed inside a transaction request, back as mig's errors; others as they are. */
  async #translated(
    db: MigrationDb,
    error: unknown,
    name: string,
    checked: { readonly expected: StoreHead; readonly fence: KyselyFence },
  ): Promise<unknown> {
    const state = sqlState(error);
    if (state === HEAD_MOVED) {
      return new MigrationConflictError(name, checked.expected, await this.readHead(db).catch(() => null));
    }
    if (state === NOT_LATEST) {
      const [latest] = await this.latest(db, 1).catch(() => []);
      return notLatest(name, latest?.name ?? null);
    }
    if (state === FENCE_LOST && checked.fence?.kind === 'lease') {
      return lockLost.leaseExpired(checked.fence.key, checked.fence.token);
    }
    return error;
  }

  /** `queries` in one transaction after the head check and before the fence check (record, rewrite). */
  async #checked(
    db: MigrationDb,
    name: string,
    options: ApplyOptions<KyselyFence>,
    queries: readonly HttpQuery[],
  ): Promise<void> {
    const checked = { expected: options.expectedHead, fence: options.fence };
    const noWaits = { lockWaitMs: 0, clientCheckMs: 0 };
    try {
      await sendTransaction(db, [
        prologue(this.tables, options.expectedHead, noWaits),
        fenceCheck(this.tables, options.fence),
        ...queries,
      ]);
    } catch (error) {
      throw await this.#translated(db, error, name, checked);
    }
  }

  /** The migration's statements: a SQL file split as PostgreSQL reads it, or a code migration's queries. */
  async #migrationStatements(
    db: MigrationDb,
    step: Step,
    run: (db: MigrationDb) => Promise<void>,
  ): Promise<readonly (string | CompiledQuery)[]> {
    if (step.script !== undefined) return splitPostgresStatements(step.script).map((s) => s.text);
    return captureQueries(db, step.migration.name, run, CAPTURE);
  }

  /** The checks that open a step's transaction: the head locked and compared, and for a revert the order. */
  #proof(step: Step, settings: BatchSettings): string[] {
    const checks = [prologue(this.tables, step.expected, settings)];
    if (step.direction === 'down') checks.push(latestIs(this.tables, step.migration.name));
    return checks;
  }

  /** The fence check, and the record written or removed with the head moved. */
  #epilogue(step: Step, durationMs?: number): (string | undefined)[] {
    const record =
      step.direction === 'up'
        ? recordApplied(this.tables, step.migration, step.transactional, step.next, durationMs)
        : recordReverted(this.tables, step.migration.name, step.expected);
    return [fenceCheck(this.tables, step.fence), ...record];
  }

  /** What an earlier failed run of a no-transaction migration left (an INVALID index) is dropped first. */
  async #dropLeftovers(db: MigrationDb, migration: Migration<MigrationDb>): Promise<void> {
    for (const leftover of await invalidIndexesOf(db, [migration])) {
      this.#settings.logger.warn(
        { migration: migration.name, dropped: leftover.object, statement: leftover.remove },
        `dropping the invalid index ${leftover.object} that an earlier run of ${migration.name} left behind`,
      );
      await sendOne(db, leftover.remove);
    }
  }

  /** A migration that failed outside a transaction, with what it left behind named. */
  async #failedOutside(db: MigrationDb, migration: Migration<MigrationDb>, error: unknown): Promise<unknown> {
    const left = await invalidIndexesOf(db, [migration]).catch(() => []);
    if (left.length === 0) return error;
    const listed = left.map((l) => `${l.object} (to remove it yourself: ${l.remove};)`).join(', ');
    return withNote(
      error,
      migration.name,
      'up',
      `It left ${listed} behind; mig drops it before this migration runs again`,
    );
  }
}

/**
 * A transaction-level advisory lock that marks the backend running the step (it blocks nobody), so that a
 * step waiting for a table lock can name who blocks it, from another request.
 */
function markerOf(step: Step): StepMarker {
  step.running.id ??= String(randomInt(1, 0x7fffffff));
  return { classId: STEP_MARKER_CLASS_ID, objId: Number(step.running.id) };
}

/** One of mig's own checks failed (head, order, fence): the steps' statements never ran. */
function isMigCheck(error: unknown): boolean {
  if (isMigError(error)) return true;
  const state = sqlState(error);
  return state === HEAD_MOVED || state === NOT_LATEST || state === FENCE_LOST;
}
