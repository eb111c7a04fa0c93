import type { Logger } from '@mig/core';
import type { LeaseGrant, LockHolder, TryLockResult } from '@mig/core/adapter';
import { deadOwnerPid } from '@mig/lock';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { AdminLeasePrimitive, LeaseFence } from '../../fence.js';
import { LeaseRow } from '../../lease-row.js';
import type { StoreTables } from '../../tables.js';
import { isTransientConnectionError } from './errors.js';

interface AttemptRow {
  token: string | null;
  expires_at: Date | string | null;
  holder_owner: string | null;
  holder_acquired_at: Date | string | null;
  holder_expires_at: Date | string | null;
  head_count: number | string | null;
  head_digest: string | null;
}

/**
 * The lease lock row, one per store (`key` = schema.table), in the store's `_lock` table. Every statement
 * stands alone (no session state, no prepared statements), so it works through PgBouncer in transaction
 * mode. Expiry is judged by the database clock only, so clock skew between instances does not matter.
 */
export function createLeasePrimitive(options: {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
  /** Where a takeover from a dead holder is told. Default: a warning on stderr. */
  readonly logger?: Logger | undefined;
}): AdminLeasePrimitive {
  return new PgLease(options.db, options.tables, options.logger);
}

class PgLease extends LeaseRow {
  /**
   * One statement; a holder that died on this host (see `deadOwnerPid`) is taken over at once with a second
   * one, which takes the row only if that very owner still has it.
   */
  async tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<LeaseFence>>> {
    const first = await this.#attempt(owner, ttlMs, undefined);
    if (first.acquired || !first.holder?.owner) return first;
    const pid = deadOwnerPid(first.holder.owner);
    if (pid === undefined) return first;
    const second = await this.#attempt(owner, ttlMs, first.holder.owner);
    if (second.acquired)
      this.toldTakeover({ owner: first.holder.owner, expiresAt: first.holder.expiresAt }, pid, second.value.token);
    return second;
  }

  async #attempt(
    owner: string,
    ttlMs: number,
    deadOwner: string | undefined,
  ): Promise<TryLockResult<LeaseGrant<LeaseFence>>> {
    const { lock } = this.tables;
    const key = this.row;
    // One statement: take the row if it is free, expired or already ours (the token always grows), and
    // read who held it before and how far the store's head has come, from the statement's snapshot.
    const { rows } = await sql<AttemptRow>`
      with attempt as (
        insert into ${lock} as l (key, owner, token, acquired_at, expires_at)
        values (${key}, ${owner}, 1, now(), now() + ${ttlMs} * interval '1 millisecond')
        on conflict (key) do update
          set owner = excluded.owner, token = l.token + 1, acquired_at = excluded.acquired_at,
              expires_at = excluded.expires_at
          where l.expires_at <= now() or l.owner = excluded.owner or l.owner = ${deadOwner ?? null}
        returning token::text as token, expires_at
      )
      select a.token, a.expires_at, h.owner as holder_owner, h.acquired_at as holder_acquired_at,
             h.expires_at as holder_expires_at, s.applied_count as head_count, s.digest as head_digest
      from (select 1) as one
      left join attempt a on true
      left join ${lock} h on h.key = ${key}
      left join ${this.tables.head} s on s.id = 1`
      .execute(this.db)
      .catch(noAttemptWhenRefused);
    const row = rows[0];
    if (row?.token && row.expires_at) {
      const fence: LeaseFence = { kind: 'lease', key, token: row.token };
      return { acquired: true, value: { token: row.token, expiresAt: toDate(row.expires_at), fence } };
    }
    const holder = row?.holder_owner
      ? {
          owner: row.holder_owner,
          since: row.holder_acquired_at ? toDate(row.holder_acquired_at) : undefined,
          expiresAt: row.holder_expires_at ? toDate(row.holder_expires_at) : undefined,
        }
      : null;
    // The head in the same statement: a waiter whose local history matches it needs no status read.
    const head =
      row?.head_count === null || row?.head_count === undefined || !row.head_digest
        ? undefined
        : { count: Number(row.head_count), digest: row.head_digest };
    return { acquired: false, holder, head };
  }

  async renew(owner: string, token: string, ttlMs: number): Promise<Date | null> {
    const { rows } = await sql<{ expires_at: Date | string }>`
      update ${this.tables.lock} set expires_at = now() + ${ttlMs} * interval '1 millisecond'
      where key = ${this.row} and owner = ${owner} and token = ${token}::bigint and expires_at > now()
      returning expires_at`.execute(this.db);
    return rows[0] ? toDate(rows[0].expires_at) : null;
  }

  async release(owner: string, token: string): Promise<void> {
    // The row stays (with its token) so the next grant's token is larger: fencing survives a release.
    await sql`
      update ${this.tables.lock} set owner = null, expires_at = now()
      where key = ${this.row} and owner = ${owner} and token = ${token}::bigint`.execute(this.db);
  }

  async holder(): Promise<LockHolder | null> {
    const { rows } = await sql<{ owner: string | null; acquired_at: Date | string | null; expires_at: Date | string }>`
      select owner, acquired_at, expires_at from ${this.tables.lock}
      where key = ${this.row} and expires_at > now()`.execute(this.db);
    const row = rows[0];
    if (!row?.owner) return null;
    return {
      owner: row.owner,
      since: row.acquired_at ? toDate(row.acquired_at) : undefined,
      expiresAt: toDate(row.expires_at),
    };
  }

  async forceRelease(): Promise<LockHolder | null> {
    const { lock, qualified } = this.tables;
    const { rows } = await sql<{ owner: string | null; acquired_at: Date | string | null }>`
      with previous as (
        select owner, acquired_at from ${lock} where key = ${qualified} and expires_at > now() for update
      )
      update ${lock} l set owner = null, expires_at = now()
      from previous where l.key = ${qualified}
      returning previous.owner, previous.acquired_at`.execute(this.db);
    const row = rows[0];
    return row?.owner ? { owner: row.owner, since: row.acquired_at ? toDate(row.acquired_at) : undefined } : null;
  }
}

/**
 * The server refused a connection for now (too many clients, starting up): the attempt was not made, and
 * the lease not taken. That is not a failure of the wait, which tries again after its backoff, within its
 * timeout; the attempt reads as a busy lock with no holder known.
 */
function noAttemptWhenRefused(error: unknown): { rows: AttemptRow[] } {
  if (isTransientConnectionError(error)) return { rows: [] };
  throw error;
}

function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}
