import { queryStart, type TableLockBlocker } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import { type LockAttemptOptions, withLockAttempts } from '../../lock-attempts.js';
import type { Step } from '../../store-engine.js';
import { sqlState } from './errors.js';

export { withLockAttempts };

// Short lock attempts on PostgreSQL: each attempt runs with a short lock_timeout; one that runs out (55P03)
// is rolled back, so the queries queued behind its lock request go through, and tried again after a backoff
// with jitter until the budget is spent. While an attempt waits, another session looks up who blocks it.

/** The advisory keys that mark the session running a step (see `PostgresStoreEngine.#markerOf`). */
export interface StepMarker {
  readonly classId: number;
  readonly objId: number;
}

/** The short-attempt options of a step on PostgreSQL: its lock timeout error, and its blockers found by its marker. */
export function postgresAttempts(
  settings: { readonly attemptMs: number; readonly budgetMs: number },
  step: Step,
  marker: StepMarker | undefined,
): LockAttemptOptions {
  const lookup = marker === undefined ? undefined : () => blockersOf(step.pool, marker);
  return { ...settings, step, isLockTimeout, lookup };
}

/** The lock timeout error: SQLSTATE 55P03 (lock_not_available), raised when lock_timeout runs out. */
export function isLockTimeout(error: unknown): boolean {
  return sqlState(error) === '55P03';
}

interface BlockerRow {
  pid: number;
  application_name: string | null;
  state: string | null;
  xact_ms: number | string | null;
  query: string | null;
}

/** The sessions that block the one holding `marker` (in this database only), one round trip. */
export async function blockersOf(pool: MigrationDb, marker: StepMarker): Promise<readonly TableLockBlocker[]> {
  const { rows } = await sql<BlockerRow>`
    select a.pid, a.application_name, a.state, a.query,
      round(extract(epoch from clock_timestamp() - a.xact_start) * 1000)::float8 as xact_ms
    from pg_catalog.pg_stat_activity a
    where a.pid = any (
      select unnest(pg_catalog.pg_blocking_pids(l.pid)) from pg_catalog.pg_locks l
      where l.locktype = 'advisory' and l.classid = ${marker.classId}::int::oid
        and l.objid = ${marker.objId}::int::oid and l.objsubid = 2 and l.granted
        and l.database = (select oid from pg_catalog.pg_database where datname = current_database()))
    order by a.xact_start nulls last`.execute(pool);
  return rows.map((r) => ({
    pid: Number(r.pid),
    application: r.application_name || undefined,
    state: r.state ?? undefined,
    transactionMs: r.xact_ms === null ? undefined : Number(r.xact_ms),
    query: queryStart(r.query),
  }));
}

/** CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, DETACH PARTITION CONCURRENTLY: never retried blindly. */
export function isConcurrently(statement: string): boolean {
  const code = statement.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
  return /\bconcurrently\b/i.test(code);
}

/**
 * One statement of a SQL migration outside a transaction. A statement that fails on its lock timeout had no
 * effect, so it is tried again in short attempts like a transaction; a CONCURRENTLY one is not (a failed
 * one may leave an invalid index, which the next run drops before it tries again), and runs with the
 * session's own lock_timeout. `session` keeps the lock_timeout set on the connection, reset by the caller.
 */
export async function runStatementOutside(
  conn: MigrationDb,
  text: string,
  options: LockAttemptOptions,
  session: { lockTimeoutMs?: number | undefined },
): Promise<void> {
  const setLockTimeout = async (ms: number | undefined) => {
    if (session.lockTimeoutMs === ms) return;
    if (ms === undefined) await sql`reset lock_timeout`.execute(conn);
    else await sql`select set_config('lock_timeout', ${`${Math.round(ms)}ms`}, false)`.execute(conn);
    session.lockTimeoutMs = ms;
  };
  if (isConcurrently(text) || options.attemptMs <= 0) {
    await setLockTimeout(undefined);
    await sql.raw(text).execute(conn);
    return;
  }
  await withLockAttempts(options, async (lockWaitMs) => {
    await setLockTimeout(lockWaitMs);
    await sql.raw(text).execute(conn);
  });
}
