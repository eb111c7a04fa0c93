import { setTimeout as sleep } from 'node:timers/promises';
import { describeThrown } from '@mig/core/adapter';
import { type RawBuilder, sql } from 'kysely';
import type { MigrationDb } from '../../db.js';

/**
 * Now, by the clock SQLite reads (the process's own: every process sharing a file runs on this machine), as
 * an ISO 8601 string with milliseconds: such strings sort as the instants they name.
 */
export const SQLITE_NOW: RawBuilder<string> = sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

/** `ms` milliseconds from now, by the same clock and in the same form as {@link SQLITE_NOW}. */
export function sqliteNowPlus(ms: number): RawBuilder<string> {
  const modifier = `${(Math.max(0, ms) / 1000).toFixed(3)} seconds`;
  return sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${`+${modifier}`})`;
}

/** The file is locked by another process (SQLITE_BUSY and its extended codes): waiting longer may do. */
export function isSqliteBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * The statement names a table that does not exist. SQLite's message starts so; libSQL's client puts the code
 * before it, and a server its own words ("SQLITE_ERROR: SQLite function returned error code 1 (SQL logic
 * error): no such table: …").
 */
export function isNoSuchTable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'SQLITE_ERROR' && typeof message === 'string' && /\bno such table\b/i.test(message);
}

/** How a write transaction waits for the file's write lock. */
export interface ImmediateOptions {
  /** Longest wait for the write lock, ms, retried with short sleeps between SQLITE_BUSY errors. */
  readonly waitMs: number;
}

/**
 * Runs `work` in a transaction opened with BEGIN IMMEDIATE on one connection: the write lock is taken up
 * front, so two writers never both read and then fail to upgrade. The lock is waited for (the connection's
 * busy timeout, then retries) up to `waitMs`; past that, the last SQLITE_BUSY is thrown. COMMIT on success,
 * ROLLBACK on any error.
 */
export async function immediate<T>(
  db: MigrationDb,
  options: ImmediateOptions,
  work: (conn: MigrationDb) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (conn) => {
    await beginImmediate(conn, options.waitMs);
    let result: T;
    try {
      result = await work(conn);
      await sql.raw('COMMIT').execute(conn);
    } catch (error) {
      await rollback(conn);
      throw error;
    }
    return result;
  });
}

/**
 * How long one statement that takes the write lock waits inside SQLite before mig retries it, ms.
 * better-sqlite3 waits synchronously: long waits would stall the process, its lease heartbeat, and another
 * connection of this process that holds the lock and needs the event loop to release it.
 */
const BUSY_SLICE_MS = 100;

/** BEGIN IMMEDIATE, retried while the file is busy, for up to `waitMs`. */
export async function beginImmediate(conn: MigrationDb, waitMs: number): Promise<void> {
  await retryWhileBusy(conn, waitMs, () => sql.raw('BEGIN IMMEDIATE').execute(conn));
}

/**
 * Runs `work` (one statement that takes the write lock, on `conn`) with short waits inside SQLite and
 * asynchronous sleeps between them, for up to `waitMs` in all; past that, the last SQLITE_BUSY is thrown.
 */
export async function retryWhileBusy<T>(conn: MigrationDb, waitMs: number, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      return await withBusyTimeout(conn, Math.min(BUSY_SLICE_MS, waitMs), work);
    } catch (error) {
      if (!isSqliteBusy(error) || performance.now() - started + pause > waitMs) throw error;
      await sleep(pause);
    }
  }
}

/** Ends the open transaction, if one is open; a failure to do so is not worth hiding the first error. */
export async function rollback(conn: MigrationDb): Promise<void> {
  await sql
    .raw('ROLLBACK')
    .execute(conn)
    .catch(() => {});
}

/**
 * Runs `work` with the connection's busy timeout set to `ms`, and puts the previous one back after. For a
 * lock attempt that must not stall the process (better-sqlite3 waits synchronously).
 */
export async function withBusyTimeout<T>(conn: MigrationDb, ms: number, work: () => Promise<T>): Promise<T> {
  const { rows } = await sql<{ timeout: number }>`pragma busy_timeout`.execute(conn);
  const previous = Number(rows[0]?.timeout ?? 0);
  await sql.raw(`pragma busy_timeout = ${Math.max(0, Math.round(ms))}`).execute(conn);
  try {
    return await work();
  } finally {
    await sql.raw(`pragma busy_timeout = ${previous}`).execute(conn);
  }
}

/** A SQLITE_BUSY inside a migration, said plainly: what it waited for and what to do. */
export function explainBusy(error: unknown, waitedMs: number): unknown {
  if (!isSqliteBusy(error)) return error;
  return new Error(
    `${describeThrown(error)}: it waited more than ${Math.round(waitedMs)} ms for the write lock on the SQLite ` +
      'file, which another process or connection holds (a long transaction, or a writer that does not end). ' +
      'Retry when it ends, or raise lockWaitTimeoutMs',
    { cause: error },
  );
}
