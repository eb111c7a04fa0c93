import type { Logger } from '@mig/core';
import { type LeaseGrant, type LockHolder, lockLost, type TryLockResult } from '@mig/core/adapter';
import { deadOwnerPid } from '@mig/lock';
import { type QueryResult, type RawBuilder, sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { AdminLeasePrimitive, KyselyFence, LeaseFence } from '../../fence.js';
import { LeaseRow } from '../../lease-row.js';
import type { StoreTables } from '../../tables.js';
import { beginImmediate, immediate, isSqliteBusy, retryWhileBusy, rollback, SQLITE_NOW, sqliteNowPlus } from './sql.js';

/**
 * How long one lease attempt waits for the file's write lock, ms: briefly, since the lock wrapper polls
 * again after its backoff, within the caller's timeout.
 */
const ATTEMPT_WAIT_MS = 250;

/**
 * Who stands in the way when the lease is free but the file's write lock is not: a connection writing to the
 * file (another program, a long transaction, mig's own status read never takes it), not a mig instance.
 */
const FILE_WRITER: LockHolder = Object.freeze({
  owner: "a connection writing to the database file (it holds the file's write lock; the lease is free)",
  outsideMig: true,
});

/** Longest wait for the write lock to renew, release or end a lease by force, ms. */
const WRITE_WAIT_MS = 10_000;

/** The lease row as read, with SQLite's now (an engine speaking SQLite's SQL reads it the same way). */
export interface LockRow {
  owner: string | null;
  token: number | string;
  acquired_at: string | null;
  expires_at: string;
  now: string;
}

export interface SqliteLeaseOptions {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
  /** Where a takeover from a dead holder is told. Default: a warning on stderr. */
  readonly logger?: Logger | undefined;
}

/**
 * The lease lock row on a SQLite file, in the store's `_lock` table, for several processes sharing the file.
 * A lease is taken in a BEGIN IMMEDIATE transaction (read, judge, write, under the file's write lock), its
 * token grows with every grant, and its expiry is judged by SQLite's clock with millisecond precision. A
 * holder that is dead for certain (its owner names this host and a pid that no longer exists) is taken
 * over at once, and said so; otherwise a dead holder's lease lapses at its TTL. Waiting never stalls: a
 * file busy with another writer reads as a busy lock.
 */
export function createSqliteLeasePrimitive(options: SqliteLeaseOptions): AdminLeasePrimitive {
  return new SqliteLease(options.db, options.tables, options.logger);
}

class SqliteLease extends LeaseRow {
  async tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<LeaseFence>>> {
    try {
      return await this.db.connection().execute((conn) => this.#attempt(conn, owner, ttlMs));
    } catch (error) {
      // The file was busy with another writer for longer than a brief wait: the lock is busy, not broken.
      if (isSqliteBusy(error)) return { acquired: false, holder: FILE_WRITER };
      throw error;
    }
  }

  /** Reads the row without a write lock; only a lease that looks free is taken, under BEGIN IMMEDIATE. */
  async #attempt(conn: MigrationDb, owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<LeaseFence>>> {
    const seen = await this.#read(conn);
    if (judge(seen, owner) === 'held') return { acquired: false, holder: holderOf(seen) };
    try {
      await beginImmediate(conn, ATTEMPT_WAIT_MS);
    } catch (error) {
      if (isSqliteBusy(error)) return { acquired: false, holder: holderOf(seen) ?? FILE_WRITER };
      throw error;
    }
    try {
      const row = await this.#read(conn);
      const verdict = judge(row, owner);
      if (verdict === 'held') {
        await rollback(conn);
        return { acquired: false, holder: holderOf(row) };
      }
      const grant = await this.#grant(conn, owner, ttlMs);
      await sql.raw('COMMIT').execute(conn);
      if (typeof verdict === 'number' && row?.owner) {
        this.toldTakeover({ owner: row.owner, expiresAt: row.expires_at }, verdict, grant.token);
      }
      return { acquired: true, value: grant };
    } catch (error) {
      await rollback(conn);
      throw error;
    }
  }

  #read(conn: MigrationDb): Promise<LockRow | undefined> {
    return readLeaseRow(conn, this.tables);
  }

  /** Writes the grant: a new row, or the old one with its token one larger (fencing survives a release). */
  async #grant(conn: MigrationDb, owner: string, ttlMs: number): Promise<LeaseGrant<LeaseFence>> {
    const { lock, qualified } = this.tables;
    const { rows } = await sql<{ token: number | string; expires_at: string }>`
      insert into ${lock} (key, owner, token, acquired_at, expires_at)
      values (${qualified}, ${owner}, 1, ${SQLITE_NOW}, ${sqliteNowPlus(ttlMs)})
      on conflict (key) do update
        set owner = excluded.owner, token = ${lock}.token + 1, acquired_at = excluded.acquired_at,
            expires_at = excluded.expires_at
      returning token, expires_at`.execute(conn);
    const row = rows[0];
    if (!row) throw new Error(`The lease row of ${qualified} was not written; nothing was granted. Try again.`);
    const token = String(row.token);
    const fence: LeaseFence = { kind: 'lease', key: qualified, token };
    return { token, expiresAt: new Date(row.expires_at), fence };
  }

  async renew(owner: string, token: string, ttlMs: number): Promise<Date | null> {
    const { rows } = await this.#write(
      sql<{ expires_at: string }>`
        update ${this.tables.lock} set expires_at = ${sqliteNowPlus(ttlMs)}
        where key = ${this.tables.qualified} and owner = ${owner} and token = ${Number(token)}
          and expires_at > ${SQLITE_NOW}
        returning expires_at`,
    );
    return rows[0] ? new Date(rows[0].expires_at) : null;
  }

  async release(owner: string, token: string): Promise<void> {
    // The row stays (with its token) so the next grant's token is larger: fencing survives a release.
    await this.#write(sql`
      update ${this.tables.lock} set owner = null, expires_at = ${SQLITE_NOW}
      where key = ${this.tables.qualified} and owner = ${owner} and token = ${Number(token)}`);
  }

  /** One writing statement, waiting for the file's write lock without stalling the process. */
  #write<R>(query: RawBuilder<R>): Promise<QueryResult<R>> {
    return this.db.connection().execute((conn) => retryWhileBusy(conn, WRITE_WAIT_MS, () => query.execute(conn)));
  }

  async holder(): Promise<LockHolder | null> {
    const row = await this.#read(this.db);
    return row && judge(row, undefined) === 'held' ? holderOf(row) : null;
  }

  async forceRelease(): Promise<LockHolder | null> {
    return immediate(this.db, { waitMs: WRITE_WAIT_MS }, async (conn) => {
      const row = await this.#read(conn);
      if (!row?.owner || row.expires_at <= row.now) return null;
      await sql`
        update ${this.tables.lock} set owner = null, expires_at = ${SQLITE_NOW}
        where key = ${this.tables.qualified}`.execute(conn);
      return { owner: row.owner, since: row.acquired_at ? new Date(row.acquired_at) : undefined };
    });
  }
}

/**
 * Whether a lease row stands in the way of `owner`: free (no row, released, expired, or its own), held, or
 * held by a process that is dead for certain (its pid, for the log line).
 */
function judge(row: LockRow | undefined, owner: string | undefined): 'free' | 'held' | number {
  if (!row?.owner || row.expires_at <= row.now || row.owner === owner) return 'free';
  return deadOwnerPid(row.owner) ?? 'held';
}

/** The store's lease row and SQLite's now, in one read. */
export async function readLeaseRow(db: MigrationDb, tables: StoreTables): Promise<LockRow | undefined> {
  const { rows } = await sql<LockRow>`
    select owner, token, acquired_at, expires_at, ${SQLITE_NOW} as now
    from ${tables.lock} where key = ${tables.qualified}`.execute(db);
  return rows[0];
}

/** Who a lease row names, if anyone (it may have expired: see `judge`). */
export function holderOf(row: LockRow | undefined): LockHolder | null {
  if (!row?.owner) return null;
  return {
    owner: row.owner,
    since: row.acquired_at ? new Date(row.acquired_at) : undefined,
    expiresAt: new Date(row.expires_at),
  };
}

/**
 * Checks, inside a migration's BEGIN IMMEDIATE transaction, that this process still holds the lease: the
 * row has the fence's token and had not expired at `since`, the moment the transaction took the file's write
 * lock. From that moment nobody else can write the row (a takeover needs the write lock), so the lease is
 * this transaction's until it ends. With `extend`, the lease also gets back the time the transaction held the
 * write lock, during which its heartbeat, queued behind the migration on the one connection, could not renew
 * it: a migration longer than the lease does not lose it at its end.
 */
export async function checkSqliteFence(
  conn: MigrationDb,
  tables: StoreTables,
  fence: KyselyFence,
  since: string,
  options: { readonly extend: boolean },
): Promise<void> {
  if (fence === undefined) return;
  if (fence.kind !== 'lease') {
    throw lockLost.notHeldBySession(fence.key, 'a SQLite store can only be fenced by the lease lock');
  }
  const { rows } = await sql<{ token: number }>`
    select token from ${tables.lock}
    where key = ${fence.key} and token = ${Number(fence.token)} and expires_at > ${since}`.execute(conn);
  if (rows.length === 0) {
    throw lockLost.leaseExpired(fence.key, fence.token);
  }
  if (!options.extend) return;
  await sql`
    update ${tables.lock}
    set expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', expires_at,
      printf('%+.3f seconds', max(0, julianday('now') - julianday(${since})) * 86400.0))
    where key = ${fence.key} and token = ${Number(fence.token)}`.execute(conn);
}
