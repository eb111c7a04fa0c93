import { InvalidOptionError, type LockLostError } from '@mig/core';
import { lockLost } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { KyselyFence } from '../../fence.js';
import type { StoreTables } from '../../tables.js';
import { advisoryObjectId } from '../postgres/advisory.js';

/** GET_LOCK names are at most 64 characters. */
const MAX_LOCK_NAME = 64;

/**
 * The GET_LOCK name of a store: "mig:" + database + "." + table. GET_LOCK names are server-wide, so the
 * database is part of the name (two databases on one server never block each other). A name that would be
 * longer than 64 characters keeps a readable prefix and ends with a hash of the whole.
 */
export function mysqlLockName(database: string, table: string): string {
  const full = `mig:${database}.${table}`;
  if (full.length <= MAX_LOCK_NAME) return full;
  const hash = advisoryObjectId(full).toString(16).padStart(8, '0');
  return `${full.slice(0, MAX_LOCK_NAME - hash.length - 1)}~${hash}`;
}

/** The database mig's tables are in: the one named for them, or the connection's own. */
export async function storeDatabase(db: MigrationDb, tables: StoreTables): Promise<string> {
  if (tables.schema !== undefined) return tables.schema;
  const { rows } = await sql<{ name: string | null }>`select database() as name`.execute(db);
  const name = rows[0]?.name;
  if (!name) {
    throw new InvalidOptionError(
      'db',
      'The MySQL connection has no database selected, so mig does not know where its tables belong. ' +
        'Name the database in the connection (mysql://host:3306/DATABASE) or pass the `schema` option.',
    );
  }
  return name;
}

/** The GET_LOCK name of the store on this connection's database. */
export async function storeLockName(db: MigrationDb, tables: StoreTables): Promise<string> {
  return mysqlLockName(await storeDatabase(db, tables), tables.table);
}

/** A timestamp column as an ISO 8601 string in UTC (mig writes UTC_TIMESTAMP into DATETIME columns). */
export function utcText(column: string) {
  return sql`date_format(${sql.ref(column)}, '%Y-%m-%dT%H:%i:%s.%fZ')`;
}

/**
 * Checks, right before a record is written and in its transaction, that this process still holds the lock.
 * GET_LOCK: held by this very connection. A lease: the row with this token, unexpired by the database clock,
 * read LOCK IN SHARE MODE so nobody can take the lease over until the record's transaction ends.
 */
export async function checkMysqlFence(db: MigrationDb, tables: StoreTables, fence: KyselyFence): Promise<void> {
  if (fence === undefined) return;
  if (fence.kind === 'advisory') {
    const name = fence.lockName ?? (await storeLockName(db, tables));
    const { rows } = await sql<{ held: number | string | null }>`
      select is_used_lock(${name}) = connection_id() as held`.execute(db);
    if (Number(rows[0]?.held ?? 0) !== 1) throw mysqlLockLost(fence);
    return;
  }
  const { rows } = await sql<{ token: string }>`
    select token from ${tables.lock}
    where ${sql.ref('key')} = ${fence.key} and token = ${fence.token} and expires_at > utc_timestamp(6)
    lock in share mode`.execute(db);
  if (rows.length === 0) throw mysqlLockLost(fence);
}

/** The lock behind `fence` is gone, said as the strategy would say it. */
export function mysqlLockLost(fence: NonNullable<KyselyFence>): LockLostError {
  return fence.kind === 'advisory'
    ? lockLost.notHeldBySession(
        fence.key,
        'the connection running the migration no longer holds its GET_LOCK (the connection was reset, or ' +
          'RELEASE_LOCK/RELEASE_ALL_LOCKS was called on it)',
      )
    : lockLost.leaseExpired(fence.key, fence.token);
}
