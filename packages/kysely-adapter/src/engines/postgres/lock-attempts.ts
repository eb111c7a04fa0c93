import {
  describeBlockers,
  describeThrown,
  lockRetryDelay,
  nextAttemptMs,
  queryStart,
  type TableLockBlocker,
  type TableLockWait,
} from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import { type Step, throwIfStopped } from '../../store-engine.js';
import { sqlState } from './errors.js';

// Short lock attempts on PostgreSQL: each attempt runs with a short lock_timeout; one that runs out (55P03)
// is rolled back, so the queries queued behind its lock request go through, and tried again after a backoff
// with jitter until the budget is spent. While an attempt waits, another session looks up who blocks it.

/** The advisory keys that mark the session running a step (see `PostgresStoreEngine.#markerOf`). */
export interface StepMarker {
  readonly classId: number;
  readonly objId: number;
}

export interface LockAttemptOptions {
  /** One attempt's lock_timeout, ms; 0 for one attempt as long as the budget. */
  readonly attemptMs: number;
  /** All attempts together, ms; 0 for no limit. */
  readonly budgetMs: number;
  readonly step: Step;
  /** Where to look up the blocker from: the store's pool, never the step's own session. */
  readonly pool: MigrationDb;
  /** Finds the step's session; without it (an embedded engine) the blocker is not looked up. */
  readonly marker: StepMarker | undefined;
}

/** The lock timeout error: SQLSTATE 55P03 (lock_not_available), raised when lock_timeout runs out. */
export function isLockTimeout(error: unknown): boolean {
  return sqlState(error) === '55P03';
}

/**
 * Runs `attempt(lockTimeoutMs)` until it succeeds, fails otherwise, or the budget is spent. `attempt` must
 * leave nothing behind when it fails on its lock timeout (a transaction rolled back, or one statement that
 * had no effect).
 */
export async function withLockAttempts(
  options: LockAttemptOptions,
  attempt: (lockTimeoutMs: number) => Promise<void>,
): Promise<void> {
  const { attemptMs, budgetMs, step } = options;
  const started = performance.now();
  for (let n = 1; ; n++) {
    const lockTimeoutMs = nextAttemptMs(attemptMs, budgetMs, performance.now() - started);
    const attemptStarted = performance.now();
    const watch = watchBlockers(options.pool, options.marker, lockTimeoutMs);
    try {
      await attempt(lockTimeoutMs);
      watch.cancel();
      return;
    } catch (error) {
      if (!isLockTimeout(error) || step.signal?.aborted) {
        watch.cancel();
        throw error;
      }
      const blockers = await watch.result();
      const now = performance.now();
      const delay = lockRetryDelay(n);
      const left = budgetMs > 0 ? budgetMs - (now - started) - delay : Number.POSITIVE_INFINITY;
      const retry = attemptMs > 0 && left >= Math.min(attemptMs, 100);
      const wait: TableLockWait = {
        attempt: n,
        waitedMs: now - attemptStarted,
        elapsedMs: now - started,
        blockers,
        retryInMs: retry ? delay : undefined,
      };
      step.onLockWait?.(wait);
      if (!retry) throw lockBudgetSpent(error, wait, options);
      await pause(delay, step.signal);
      throwIfStopped(step);
    }
  }
}

/** The final error: how long and how often it tried, who blocked it, and what to do. */
function lockBudgetSpent(error: unknown, wait: TableLockWait, options: LockAttemptOptions): Error {
  const waited = options.budgetMs > 0 ? options.budgetMs : Math.round(wait.elapsedMs);
  const attempts =
    wait.attempt === 1
      ? ''
      : `, in ${wait.attempt} attempts of at most ${options.attemptMs} ms each, letting other queries through between them`;
  const failure = new Error(
    `${describeThrown(error)}: it waited more than ${waited} ms for a lock that another session holds${attempts}; ` +
      `${describeBlockers(wait.blockers)}. Retry when that session ends, or raise the lock timeout ` +
      '(lockTimeout, MIGRATION_LOCK_TIMEOUT)',
    { cause: error },
  );
  return Object.assign(failure, { attempts: wait.attempt, blockers: wait.blockers });
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

interface BlockerWatch {
  cancel(): void;
  /** The blockers seen while the attempt waited; empty when none were (or the look-up was too slow). */
  result(): Promise<readonly TableLockBlocker[]>;
}

/** Most time the look-up may add to a failed attempt before mig goes on without it. */
const LOOKUP_GRACE_MS = 1_000;

/**
 * Looks up, shortly before the attempt's lock timeout runs out, who blocks the step's session: the attempt
 * is still waiting then, so pg_blocking_pids names the sessions ahead of it.
 */
function watchBlockers(pool: MigrationDb, marker: StepMarker | undefined, lockTimeoutMs: number): BlockerWatch {
  if (marker === undefined || lockTimeoutMs <= 0) return { cancel() {}, result: async () => [] };
  let found: Promise<readonly TableLockBlocker[]> | undefined;
  const lookAt = Math.max(0, lockTimeoutMs - Math.min(250, lockTimeoutMs / 4));
  const timer = setTimeout(() => {
    found = blockersOf(pool, marker).catch(() => []);
  }, lookAt);
  timer.unref?.();
  return {
    cancel: () => clearTimeout(timer),
    async result() {
      clearTimeout(timer);
      if (found === undefined) return [];
      let grace: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<readonly TableLockBlocker[]>((resolve) => {
        grace = setTimeout(() => resolve([]), LOOKUP_GRACE_MS);
      });
      try {
        return await Promise.race([found, late]);
      } finally {
        clearTimeout(grace);
      }
    },
  };
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
