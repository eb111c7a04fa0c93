import { isMigError, MigError, MigrationFailedError } from '@mig/core';
import { describeThrown, sentence } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import { withLockAttempts } from '../../lock-attempts.js';
import { firstLine, type SqlStatement } from '../../sql/statement.js';
import { type EngineSettings, type Step, throwIfStopped } from '../../store-engine.js';
import type { StoreTables } from '../../tables.js';
import { isMysqlSessionEnded, MysqlErrno, mysqlErrno } from './errors.js';
import { checkMysqlFence } from './fence.js';
import { attemptSeconds, mysqlAttempts } from './lock-attempts.js';
import { advanceProgress, clearProgress, describeEarlierRun, readProgress, startProgress } from './progress.js';
import { isDataStatement, splitMysqlStatements } from './split.js';
import { checkLatest, lockMysqlHead, writeMysqlRecord } from './tables.js';
import { useDatabase } from './tenants.js';

/** What a run needs beyond the step: mig's tables and the engine's settings. */
export interface MysqlRunContext {
  readonly tables: StoreTables;
  readonly settings: EngineSettings;
}

/** Marks the start of a code migration's work inside mig's transaction; gone once DDL committed it. */
const SAVEPOINT = 'mig_migration';

/**
 * Runs one migration and records it, on one connection. MySQL commits each DDL statement by itself, so a
 * migration is atomic with its record only when it changes data alone:
 * - a SQL migration of data statements only runs in one transaction with its record;
 * - any other SQL migration runs statement by statement, after the head, order and lock are proven, and is
 *   recorded once all its statements succeeded; a failure names the statement and those that took effect;
 * - a code migration runs in a transaction with its record, unless a statement of it commits that
 *   transaction (DDL): then it is recorded in a transaction of its own once it succeeds.
 */
export async function runMysqlStep(
  db: MigrationDb,
  context: MysqlRunContext,
  step: Step,
  run: (db: MigrationDb) => Promise<void>,
): Promise<void> {
  await db.connection().execute(async (conn) => {
    if (step.script === undefined) return runCode(conn, context, step, run);
    const statements = splitMysqlStatements(step.script);
    if (statements.every((s) => isDataStatement(s.text))) return runAtomicScript(conn, context, step, statements);
    return runScript(conn, context, step, statements);
  });
}

/** A SQL migration of data statements only: the statements and the record commit together, or neither. */
async function runAtomicScript(
  conn: MigrationDb,
  context: MysqlRunContext,
  step: Step,
  statements: readonly SqlStatement[],
): Promise<void> {
  await guarded(conn, async () => {
    await begin(conn, context, step);
    const started = performance.now();
    await withLockWait(conn, context.settings, () => runEach(conn, statements, step, context.settings, true));
    await commitRecord(conn, context, step, performance.now() - started);
  });
}

/** A SQL migration with DDL (or anything that may commit by itself): one statement at a time. */
async function runScript(
  conn: MigrationDb,
  context: MysqlRunContext,
  step: Step,
  statements: readonly SqlStatement[],
): Promise<void> {
  // Nothing can be rolled back once the first statement ran: the head, the order and the lock first, and a
  // marker of how far it gets (what an earlier, interrupted run of it left is read first).
  const earlier = await guarded(conn, async () => {
    await begin(conn, context, step);
    await checkMysqlFence(conn, context.tables, step.fence);
    const found = await readProgress(conn, context.tables);
    await startProgress(conn, context.tables, step.migration.name);
    await sql`commit`.execute(conn);
    return found;
  });
  const started = performance.now();
  const progress = { tables: context.tables, earlier: describeEarlierRun(earlier, step.migration.name, statements) };
  await withLockWait(conn, context.settings, () => runEach(conn, statements, step, context.settings, false, progress));
  await recordAfterEffects(conn, context, step, performance.now() - started);
}

/**
 * Runs statements in order; a failure names the statement, and (outside a transaction) those that took
 * effect. Outside a transaction, each statement that took effect moves the run's progress marker, and a
 * failure says what an earlier run of the same migration left.
 */
async function runEach(
  conn: MigrationDb,
  statements: readonly SqlStatement[],
  step: Step,
  settings: EngineSettings,
  atomic: boolean,
  progress?: { readonly tables: StoreTables; readonly earlier: string | undefined },
): Promise<void> {
  // Outside a transaction each statement commits by itself, and one that timed out on a lock had no effect:
  // it is tried again in short attempts, letting the queries queued behind it through in between.
  const shortAttempts = !atomic && settings.ddlLockTimeoutMs > 0 && settings.lockWaitTimeoutMs > 0;
  for (const [index, statement] of statements.entries()) {
    throwIfStopped(step);
    try {
      if (!shortAttempts) await sql.raw(statement.text).execute(conn);
      else {
        await withLockAttempts(mysqlAttempts(settings, step), async (lockTimeoutMs) => {
          await sql.raw(`set session lock_wait_timeout = ${attemptSeconds(lockTimeoutMs)}`).execute(conn);
          await sql.raw(statement.text).execute(conn);
        });
      }
    } catch (error) {
      throw statementFailed(step, statements, index, explainWait(error, settings), atomic, progress?.earlier);
    }
    if (progress) await advanceProgress(conn, progress.tables, index + 1);
  }
}

/** A code migration: atomic with its record unless it committed mig's transaction itself (DDL does). */
async function runCode(
  conn: MigrationDb,
  context: MysqlRunContext,
  step: Step,
  run: (db: MigrationDb) => Promise<void>,
): Promise<void> {
  await guarded(conn, async () => {
    await begin(conn, context, step);
    await sql.raw(`savepoint ${SAVEPOINT}`).execute(conn);
  });
  const started = performance.now();
  try {
    await withLockWait(conn, context.settings, () => run(conn));
  } catch (error) {
    const committed = await savepointGone(conn, 'rollback to savepoint');
    await rollback(conn);
    throw codeFailed(step, error, committed);
  }
  const durationMs = performance.now() - started;
  if (!(await guarded(conn, () => savepointGone(conn, 'release savepoint')))) {
    await guarded(conn, () => commitRecord(conn, context, step, durationMs));
    return;
  }
  // Its DDL committed mig's transaction (and with it the head's row lock): whatever it left open is
  // committed too, and the record gets a transaction of its own, with the head and the lock proven again.
  await sql`commit`.execute(conn);
  await recordAfterEffects(conn, context, step, durationMs);
}

/** Opens mig's transaction: the head locked and checked, and for a revert the order. */
async function begin(conn: MigrationDb, context: MysqlRunContext, step: Step): Promise<void> {
  throwIfStopped(step);
  await sql`start transaction`.execute(conn);
  const head = await lockMysqlHead(conn, context.tables, step.migration.name, step.expected);
  step.running.id = head.connectionId;
  if (step.direction === 'down') await checkLatest(conn, context.tables, step.migration.name);
}

/**
 * The fence checked, the record and head written (and a progress marker cleared), committed: right after the
 * migration, in its transaction.
 */
async function commitRecord(
  conn: MigrationDb,
  context: MysqlRunContext,
  step: Step,
  durationMs: number,
  marked = false,
) {
  await step.recordSpan(false, async () => {
    await checkMysqlFence(conn, context.tables, step.fence);
    await writeMysqlRecord(conn, context.tables, step, durationMs);
    if (marked) await clearProgress(conn, context.tables);
    await sql`commit`.execute(conn);
  });
}

/**
 * The record of a migration whose statements have already taken effect, in a transaction of its own. If
 * the head moved or the lock was lost meanwhile, the error says that the migration's changes are there but
 * unrecorded.
 */
async function recordAfterEffects(
  conn: MigrationDb,
  context: MysqlRunContext,
  step: Step,
  durationMs: number,
  marked = false,
) {
  try {
    await guarded(conn, async () => {
      await begin(conn, context, step);
      await commitRecord(conn, context, step, durationMs, marked);
    });
  } catch (error) {
    if (!isMigError(error)) throw error;
    const verb = step.direction === 'up' ? 'applied' : 'reverted';
    throw new MigError(
      error.code,
      `${error.message} Note: "${step.migration.name}" was ${verb} (MySQL commits DDL as it runs) but is not ` +
        'recorded: check what it changed before the next run, which would run it again.',
      { cause: error, context: { ...error.context, migration: step.migration.name, tookEffect: true } },
    );
  }
}

/** Runs `work`; on any failure ends the open transaction on this connection before the error goes on. */
async function guarded<T>(conn: MigrationDb, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await rollback(conn);
    throw error;
  }
}

async function rollback(conn: MigrationDb): Promise<void> {
  await sql`rollback`.execute(conn).catch(() => {});
}

/** True when mig's savepoint no longer exists: the transaction it was in was committed (by DDL). */
async function savepointGone(conn: MigrationDb, command: 'rollback to savepoint' | 'release savepoint') {
  try {
    await sql.raw(`${command} ${SAVEPOINT}`).execute(conn);
    return false;
  } catch (error) {
    if (mysqlErrno(error) === MysqlErrno.NoSuchSavepoint) return true;
    throw error;
  }
}

/**
 * Bounds how long a statement of the migration waits for a lock another session holds (an ALTER TABLE
 * behind a long transaction would stall every query on that table behind it). MySQL counts in seconds; the
 * connection's own values come back afterwards, since it goes back to the application's pool.
 */
async function withLockWait<T>(conn: MigrationDb, settings: EngineSettings, work: () => Promise<T>): Promise<T> {
  if (settings.runIn !== undefined) return inDatabase(conn, settings.runIn, () => lockWaitOnly(conn, settings, work));
  return lockWaitOnly(conn, settings, work);
}

/**
 * A tenant's migration runs with the tenant's database as the connection's default (unqualified names go
 * there); the connection goes back to the pool with the database it had.
 */
async function inDatabase<T>(conn: MigrationDb, database: string, work: () => Promise<T>): Promise<T> {
  const { rows } = await sql<{ name: string | null }>`select database() as name`.execute(conn);
  const before = rows[0]?.name ?? null;
  await sql.raw(useDatabase(database)).execute(conn);
  try {
    return await work();
  } finally {
    if (before !== null) {
      await sql
        .raw(useDatabase(before))
        .execute(conn)
        .catch(() => {});
    }
  }
}

async function lockWaitOnly<T>(conn: MigrationDb, settings: EngineSettings, work: () => Promise<T>): Promise<T> {
  const sets: string[] = [];
  const restores: string[] = [];
  if (settings.lockWaitTimeoutMs > 0) {
    const seconds = waitSeconds(settings);
    sets.push(
      '@mig_lock_wait = @@session.lock_wait_timeout',
      '@mig_row_wait = @@session.innodb_lock_wait_timeout',
      `session lock_wait_timeout = ${seconds}`,
      `session innodb_lock_wait_timeout = ${seconds}`,
    );
    restores.push('session lock_wait_timeout = @mig_lock_wait', 'session innodb_lock_wait_timeout = @mig_row_wait');
  }
  if (settings.idleInTransactionMs > 0) {
    // A migration's connection idle this long (a wedged or vanished process) is ended by the server, which
    // rolls back its transaction and lets its GET_LOCK go.
    sets.push(
      '@mig_idle = @@session.wait_timeout',
      `session wait_timeout = ${Math.max(1, Math.ceil(settings.idleInTransactionMs / 1000))}`,
    );
    restores.push('session wait_timeout = @mig_idle');
  }
  if (sets.length === 0) return work();
  await sql.raw(`set ${sets.join(', ')}`).execute(conn);
  try {
    return await work();
  } catch (error) {
    throw explainWait(error, settings);
  } finally {
    await sql
      .raw(`set ${restores.join(', ')}`)
      .execute(conn)
      .catch(() => {});
  }
}

function waitSeconds(settings: EngineSettings): number {
  return Math.max(1, Math.ceil(settings.lockWaitTimeoutMs / 1000));
}

/** A lock wait timeout inside a migration, said plainly: what it waited for and what to do. */
function explainWait(error: unknown, settings: EngineSettings): unknown {
  if (mysqlErrno(error) !== MysqlErrno.LockWaitTimeout || settings.lockWaitTimeoutMs <= 0) return error;
  return new Error(
    `${describeThrown(error)}: it waited more than ${waitSeconds(settings)} s for a lock that another session holds (a long ` +
      'transaction on a table it changes; see SHOW PROCESSLIST). Retry when that session ends, or raise lockWaitTimeoutMs',
    { cause: error },
  );
}

/** Which statement of a SQL migration failed, and what of it had taken effect. */
function statementFailed(
  step: Step,
  statements: readonly SqlStatement[],
  index: number,
  error: unknown,
  atomic: boolean,
  earlier?: string | undefined,
): MigrationFailedError {
  const failed = statements[index] as SqlStatement;
  const which = `Statement ${index + 1} of ${statements.length} failed (line ${failed.line}: "${firstLine(failed.text)}")`;
  const ended = isMysqlSessionEnded(error);
  const failure = (transactional: boolean, note: string) =>
    ended
      ? MigrationFailedError.sessionEnded(step.migration.name, step.direction, error, transactional, note)
      : new MigrationFailedError(step.migration.name, step.direction, error, transactional, note);
  if (atomic) return failure(true, which);
  const done = statements.slice(0, index);
  const effects =
    done.length === 0
      ? 'no statement had run before it, so nothing took effect'
      : `already in effect: ${done.map((s, i) => `statement ${i + 1} (line ${s.line}: "${firstLine(s.text, 60)}")`).join(', ')}`;
  const note =
    'MySQL commits each DDL statement by itself, so this migration ran one statement at a time. ' +
    `${which}; ${effects}${earlier ? ' in this run' : ''}. ` +
    `${earlier ? `${sentence(earlier)} ` : ''}It was not recorded: undo what took effect, or make those statements ` +
    'safe to run again (IF NOT EXISTS, IF EXISTS), before the next run';
  return failure(false, note);
}

/** A code migration that threw: rolled back whole, or (after DDL committed) partly in effect. */
function codeFailed(step: Step, error: unknown, committed: boolean): unknown {
  if (isMigError(error)) return error;
  const failure = isMysqlSessionEnded(error)
    ? MigrationFailedError.sessionEnded
    : (...args: ConstructorParameters<typeof MigrationFailedError>) => new MigrationFailedError(...args);
  if (!committed) return failure(step.migration.name, step.direction, error, true);
  const note =
    'It ran a statement that MySQL commits by itself (DDL), so what it did up to the failure may have taken ' +
    'effect and could not be rolled back. It was not recorded: undo what took effect, or make the migration safe ' +
    'to run again, before the next run';
  return failure(step.migration.name, step.direction, error, false, note);
}
