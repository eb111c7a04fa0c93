import { lockLost } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { KyselyFence } from '../../fence.js';
import type { StoreTables } from '../../tables.js';
import { ADVISORY_CLASS_ID, advisoryObjectId } from './advisory.js';

/** Why an advisory lock is not held by the session running the migration, said once. */
export const NOT_HELD_BY_SESSION =
  'the session running the migration does not hold it. If connections go through a transaction pooler ' +
  '(PgBouncer in transaction mode), session advisory locks do not work: use the lease strategy';

/**
 * Checks, inside the migration's transaction, that this process still holds the lock. An advisory lock must
 * be held by the very session running the transaction (behind a transaction pooler it is not, and this is
 * where that shows). For a lease the row is locked FOR SHARE, so nobody can take the lease over until this
 * transaction ends.
 */
export async function checkFence(db: MigrationDb, tables: StoreTables, fence: KyselyFence): Promise<void> {
  if (fence === undefined) return;
  if (fence.kind === 'advisory') {
    const { rows } = await sql<{ held: boolean }>`
      select exists (
        select 1 from pg_catalog.pg_locks
        where locktype = 'advisory' and classid = ${ADVISORY_CLASS_ID}::oid
          and objid = ${advisoryObjectId(tables.qualified)}::oid
          and objsubid = 2 and pid = pg_backend_pid() and granted
          and database = (select oid from pg_catalog.pg_database where datname = current_database())
      ) as held`.execute(db);
    if (!rows[0]?.held) {
      throw lockLost.notHeldBySession(fence.key, NOT_HELD_BY_SESSION);
    }
    return;
  }
  // clock_timestamp(), not now(): inside the migration's transaction now() is when the transaction began,
  // and a lease that expired since (its holder frozen, nobody taking it over yet) would still pass.
  const { rows } = await sql<{ token: string }>`
    select token::text as token from ${tables.lock}
    where key = ${fence.key} and token = ${fence.token}::bigint and expires_at > clock_timestamp()
    for share`.execute(db);
  if (rows.length === 0) {
    throw lockLost.leaseExpired(fence.key, fence.token);
  }
}
