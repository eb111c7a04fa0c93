import { type LeasePrimitive, type LockHolder, LockLostError } from '@mig/core';
import { sql } from 'kysely';
import type { MigrationDb } from '../sources.js';
import type { StoreTables } from './tables.js';

/** A held session advisory lock: its keys, and the lock's own session, on which all work under it runs. */
export interface AdvisoryFence {
  readonly kind: 'advisory';
  readonly classId: number;
  readonly objId: number;
  readonly key: string;
  /**
   * MySQL/MariaDB: the GET_LOCK name the session holds (classId and objId then only identify it in logs).
   * Absent on PostgreSQL.
   */
  readonly lockName?: string | undefined;
  /** A Kysely bound to the session that holds the lock. */
  readonly db: MigrationDb;
}

/** Proof that a lease is held: the lock row's key and the token granted with it. */
export interface LeaseFence {
  readonly kind: 'lease';
  readonly key: string;
  readonly token: string;
}

/** A lease primitive with the one thing only an operator does: end the lease whoever holds it. */
export interface AdminLeasePrimitive extends LeasePrimitive<LeaseFence> {
  /** Ends the lease whoever holds it; returns the holder it cleared, if any (`mig unlock --force`). */
  forceRelease(): Promise<LockHolder | null>;
}

/**
 * What a Kysely store checks of the lock a run holds: an advisory lock, a lease, or nothing to check
 * (undefined: an in-process mutex on an embedded database, or no lock at all).
 */
export type KyselyFence = AdvisoryFence | LeaseFence | undefined;

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
        where locktype = 'advisory' and classid = ${fence.classId}::oid and objid = ${fence.objId}::oid
          and objsubid = 2 and pid = pg_backend_pid() and granted
          and database = (select oid from pg_catalog.pg_database where datname = current_database())
      ) as held`.execute(db);
    if (!rows[0]?.held) {
      throw new LockLostError(
        fence.key,
        'the session running the migration does not hold it. If connections go through a transaction pooler ' +
          '(PgBouncer in transaction mode), session advisory locks do not work: use the lease strategy',
        'session-not-holder',
      );
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
    throw new LockLostError(
      fence.key,
      `lease token ${fence.token} expired or was taken over by another instance`,
      'expired',
    );
  }
}
