import { EMPTY_DIGEST, type StoreHead } from '@mig/core/adapter';
import type { KyselyFence } from '../../fence.js';
import type { StoreTables } from '../../tables.js';
import { ADVISORY_CLASS_ID, advisoryObjectId } from './advisory.js';
import { headNotice } from './notifications.js';

// The statements mig wraps around a migration on PostgreSQL, as text to send in one round trip with it (the
// simple query protocol runs several statements in order and stops at the first error). Every value is a
// literal: names escaped, digests and checksums hex, counts integers. The checks raise errors of their own
// SQLSTATE, which the store turns back into mig's errors.

/** The head was not where the run expected it: another writer moved it. */
export const HEAD_MOVED = 'MG001';
/** The fence failed: this process no longer holds the migration lock. */
export const FENCE_LOST = 'MG002';
/** A revert of anything but the latest applied migration. */
export const NOT_LATEST = 'MG003';

/** A string as a literal whatever `standard_conforming_strings` says. */
export function literal(value: string): string {
  return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `"schema"."table"` for one of mig's tables (names are validated identifiers). */
export function tableName(tables: StoreTables, which: 'records' | 'head' | 'lock'): string {
  const table = which === 'records' ? tables.table : `${tables.table}_${which}`;
  return tables.schema === undefined ? `"${table}"` : `"${tables.schema}"."${table}"`;
}

export interface BatchSettings {
  /** lock_timeout inside the migration's transaction, ms; 0 for none. */
  readonly lockWaitMs: number;
  /** client_connection_check_interval, ms, or 0 where the server has no such setting. */
  readonly clientCheckMs: number;
  /** idle_in_transaction_session_timeout inside the migration's transaction, ms; 0 for none. */
  readonly idleMs?: number | undefined;
  /** statement_timeout inside the migration's transaction, ms; 0 or unset for the session's own. */
  readonly statementMs?: number | undefined;
  /**
   * Marks the session running the migration (a shared transaction-level advisory lock on these keys), so
   * that a stop can find it in pg_locks and end it from another session.
   */
  readonly marker?: { readonly classId: number; readonly objId: number } | undefined;
  /** A tenant's `search_path` (quoted), for the migration's transaction only. */
  readonly searchPath?: string | undefined;
}

/**
 * Opens the migration's transaction work: its waits bounded (SET LOCAL), the head row locked and checked
 * against the expected head, and the start time kept for the record's duration. One statement.
 */
export function prologue(tables: StoreTables, expected: StoreHead, settings: BatchSettings): string {
  const lines = [
    `PERFORM set_config('mig.started', clock_timestamp()::text, true);`,
    `PERFORM set_config('lock_timeout', '${Math.max(0, Math.round(settings.lockWaitMs))}ms', true);`,
  ];
  if (settings.clientCheckMs > 0) {
    lines.push(
      `PERFORM set_config('client_connection_check_interval', '${Math.round(settings.clientCheckMs)}', true);`,
    );
  }
  if (settings.idleMs !== undefined && settings.idleMs > 0) {
    lines.push(`PERFORM set_config('idle_in_transaction_session_timeout', '${Math.round(settings.idleMs)}', true);`);
  }
  if (settings.statementMs !== undefined && settings.statementMs > 0) {
    lines.push(`PERFORM set_config('statement_timeout', '${Math.round(settings.statementMs)}ms', true);`);
  }
  if (settings.searchPath !== undefined) {
    lines.push(`PERFORM set_config('search_path', ${literal(settings.searchPath)}, true);`);
  }
  if (settings.marker !== undefined) {
    lines.push(`PERFORM pg_advisory_xact_lock_shared(${settings.marker.classId}, ${settings.marker.objId});`);
  }
  lines.push(
    `PERFORM 1 FROM ${tableName(tables, 'head')} WHERE id = 1 AND applied_count = ${expected.count}` +
      ` AND digest = ${literal(expected.digest)} FOR UPDATE;`,
    `IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = '${HEAD_MOVED}', MESSAGE = 'mig: the head moved';`,
    'END IF;',
  );
  return doBlock(lines);
}

/** Raises NOT_LATEST unless `name` is the latest applied migration. */
export function latestIs(tables: StoreTables, name: string): string {
  return doBlock([
    `IF (SELECT name FROM ${tableName(tables, 'records')} ORDER BY id DESC LIMIT 1) IS DISTINCT FROM ${literal(name)} THEN`,
    `RAISE EXCEPTION USING ERRCODE = '${NOT_LATEST}', MESSAGE = 'mig: not the latest applied migration';`,
    'END IF;',
  ]);
}

/**
 * Raises FENCE_LOST unless this process still holds the lock: the advisory lock on this very session, or the
 * lease row with this token, unexpired and locked FOR SHARE (no takeover before this transaction ends).
 */
export function fenceCheck(tables: StoreTables, fence: KyselyFence): string | undefined {
  if (fence === undefined) return undefined;
  const lost = `RAISE EXCEPTION USING ERRCODE = '${FENCE_LOST}', MESSAGE = 'mig: the migration lock was lost';`;
  if (fence.kind === 'advisory') {
    // Three calls instead of a scan of pg_locks (which copies the server's whole lock table). A shared lock on
    // the same key until this transaction ends: no other session can take the lock before the commit (and it
    // fails at once when another session holds it). Then this session gives its own lock back, which says
    // whether it held it, and takes it again at once: nobody can come between, and a session never waits
    // for its own locks.
    const key = `${ADVISORY_CLASS_ID}::int, ${advisoryObjectId(tables.qualified)}::int`;
    return doBlock([
      `IF NOT pg_try_advisory_xact_lock_shared(${key}) THEN ${lost} END IF;`,
      `IF NOT pg_advisory_unlock(${key}) THEN ${lost} END IF;`,
      `PERFORM pg_advisory_lock(${key});`,
    ]);
  }
  return doBlock([
    `PERFORM 1 FROM ${tableName(tables, 'lock')} WHERE key = ${literal(fence.key)}` +
      // clock_timestamp(): now() is when the transaction began, before the migration ran.
      ` AND token = ${BigInt(fence.token)} AND expires_at > clock_timestamp() FOR SHARE;`,
    `IF NOT FOUND THEN ${lost}`,
    'END IF;',
  ]);
}

/**
 * The record and the head after it; the duration measured in the database since the prologue, or (`'batch'`)
 * since the round trip that holds the record began (statement_timestamp() is when the server received it).
 */
export function recordApplied(
  tables: StoreTables,
  migration: { readonly name: string; readonly checksum: string },
  transactional: boolean,
  next: StoreHead,
  durationMs?: number | 'batch',
): string[] {
  const since = durationMs === 'batch' ? 'statement_timestamp()' : `current_setting('mig.started')::timestamptz`;
  const duration =
    durationMs === undefined || durationMs === 'batch'
      ? `round(extract(epoch from clock_timestamp() - ${since}) * 1000)::int`
      : String(Math.round(durationMs));
  return [
    `INSERT INTO ${tableName(tables, 'records')} (name, checksum, digest, transactional, duration_ms)` +
      ` VALUES (${literal(migration.name)}, ${literal(migration.checksum)}, ${literal(next.digest)}, ${transactional}, ${duration});`,
    writeHead(tables, next),
  ];
}

/** The record of the latest migration removed, and the head moved back to the record before it. */
export function recordReverted(tables: StoreTables, name: string, head: StoreHead): string[] {
  const records = tableName(tables, 'records');
  return [
    `DELETE FROM ${records} WHERE name = ${literal(name)};`,
    `UPDATE ${tableName(tables, 'head')} SET applied_count = ${head.count - 1},` +
      ` digest = coalesce((SELECT digest FROM ${records} ORDER BY id DESC LIMIT 1), ${literal(EMPTY_DIGEST)}),` +
      ' updated_at = now() WHERE id = 1;',
  ];
}

export function writeHead(tables: StoreTables, head: StoreHead): string {
  return (
    `UPDATE ${tableName(tables, 'head')} SET applied_count = ${head.count}, digest = ${literal(head.digest)},` +
    ' updated_at = now() WHERE id = 1;'
  );
}

/**
 * Tells waiters the store moved to `head` (delivered at commit; nothing without a listener): a waiter that
 * needs fewer than `head.count` migrations looks at the status then.
 */
export function notify(channel: string | undefined, head: StoreHead): string | undefined {
  return channel === undefined
    ? undefined
    : `SELECT pg_notify(${literal(channel)}, ${literal(headNotice('applied', head))});`;
}

/** The statements as one batch; a migration's own SQL may end in a comment line, hence the newlines. */
export function batch(parts: readonly (string | undefined)[]): string {
  return parts
    .filter((p): p is string => p !== undefined && p.trim() !== '')
    .map((p) => p.replace(/;\s*$/, ''))
    .join('\n;\n');
}

function doBlock(lines: readonly string[]): string {
  return `DO $mig$ BEGIN\n${lines.join('\n')}\nEND $mig$`;
}
