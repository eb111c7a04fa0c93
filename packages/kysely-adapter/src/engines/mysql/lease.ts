import type { Logger } from '@mig/core';
import type { LeaseGrant, LockHolder, TryLockResult } from '@mig/core/adapter';
import { deadOwnerPid } from '@mig/lock';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { AdminLeasePrimitive, LeaseFence } from '../../fence.js';
import { LeaseRow } from '../../lease-row.js';
import type { StoreTables } from '../../tables.js';
import { isMysqlLockCollision, isMysqlTransientConnectionError } from './errors.js';
import { utcText } from './fence.js';

/** A dead holder's lease this attempt took over, to be told once the transaction committed. */
interface TakenOver {
  readonly owner: string;
  readonly expiresAt: string;
  readonly pid: number;
}

interface LockRow {
  owner: string | null;
  token: string | number;
  acquired_at: string | null;
  expires_at: string;
  expired: number | string;
}

/**
 * The lease lock row on MySQL/MariaDB, one per store (`key` = the table), in the store's `_lock` table.
 * Each attempt is one short transaction on the row (read FOR UPDATE, then take it if free, expired or
 * already ours); the token always grows. Expiry is judged by the database clock only (UTC_TIMESTAMP), so
 * clock skew between instances does not matter.
 */
export function createMysqlLeasePrimitive(options: {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
  /** Where a takeover from a dead holder is told. Default: a warning on stderr. */
  readonly logger?: Logger | undefined;
}): AdminLeasePrimitive {
  return new MysqlLease(options.db, options.tables, options.logger);
}

class MysqlLease extends LeaseRow {
  async tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<LeaseFence>>> {
    try {
      const { result, tookOver } = await this.db.transaction().execute((trx) => this.#attempt(trx, owner, ttlMs));
      if (tookOver && result.acquired) this.toldTakeover(tookOver, tookOver.pid, result.value.token);
      return result;
    } catch (error) {
      // A collision with another attempt, or a connection refused for now: no attempt was made, and the
      // wait tries again after its backoff, within its timeout.
      if (isMysqlLockCollision(error) || isMysqlTransientConnectionError(error)) {
        return { acquired: false, holder: null };
      }
      throw error;
    }
  }

  /** Reads the row FOR UPDATE and takes it if free, expired, already ours, or held by a process dead on this host. */
  async #attempt(
    trx: MigrationDb,
    owner: string,
    ttlMs: number,
  ): Promise<{ result: TryLockResult<LeaseGrant<LeaseFence>>; tookOver?: TakenOver | undefined }> {
    const { lock } = this.tables;
    const key = this.row;
    const row = await this.#read(trx, true);
    const micros = Math.max(0, Math.round(ttlMs * 1000));
    const live = row !== undefined && Number(row.expired) !== 1 && row.owner !== null && row.owner !== owner;
    const deadPid = live && row?.owner ? deadOwnerPid(row.owner) : undefined;
    if (!row) {
      await sql`
        insert into ${lock} (${sql.ref('key')}, owner, token, acquired_at, expires_at)
        values (${key}, ${owner}, 1, utc_timestamp(6), utc_timestamp(6) + interval ${micros} microsecond)`.execute(trx);
    } else if (!live || deadPid !== undefined) {
      await sql`
        update ${lock} set owner = ${owner}, token = token + 1, acquired_at = utc_timestamp(6),
          expires_at = utc_timestamp(6) + interval ${micros} microsecond
        where ${sql.ref('key')} = ${key}`.execute(trx);
    } else {
      const holder = {
        owner: row.owner ?? 'an unknown owner',
        since: toDate(row.acquired_at),
        expiresAt: toDate(row.expires_at),
      };
      return { result: { acquired: false, holder } };
    }
    const taken = await this.#read(trx, false);
    if (!taken) throw new Error('The lease row vanished inside the transaction that wrote it.');
    const token = String(taken.token);
    const fence: LeaseFence = { kind: 'lease', key, token };
    const result = {
      acquired: true,
      value: { token, expiresAt: toDate(taken.expires_at) ?? new Date(), fence },
    } as const;
    const tookOver =
      deadPid !== undefined && row?.owner ? { owner: row.owner, expiresAt: row.expires_at, pid: deadPid } : undefined;
    return { result, tookOver };
  }

  async #read(db: MigrationDb, forUpdate: boolean): Promise<LockRow | undefined> {
    const { rows } = await sql<LockRow>`
      select owner, cast(token as char) as token, ${utcText('acquired_at')} as acquired_at,
        ${utcText('expires_at')} as expires_at, expires_at <= utc_timestamp(6) as expired
      from ${this.tables.lock} where ${sql.ref('key')} = ${this.row}
      ${forUpdate ? sql`for update` : sql``}`.execute(db);
    return rows[0];
  }

  async renew(owner: string, token: string, ttlMs: number): Promise<Date | null> {
    const micros = Math.max(0, Math.round(ttlMs * 1000));
    return this.db.transaction().execute(async (trx) => {
      const result = await sql`
        update ${this.tables.lock} set expires_at = utc_timestamp(6) + interval ${micros} microsecond
        where ${sql.ref('key')} = ${this.row} and owner = ${owner} and token = ${token}
          and expires_at > utc_timestamp(6)`.execute(trx);
      if (Number(result.numAffectedRows ?? 0) === 0) return null;
      return toDate((await this.#read(trx, false))?.expires_at ?? null) ?? null;
    });
  }

  async release(owner: string, token: string): Promise<void> {
    // The row stays (with its token) so the next grant's token is larger: fencing survives a release.
    await sql`
      update ${this.tables.lock} set owner = null, expires_at = utc_timestamp(6)
      where ${sql.ref('key')} = ${this.row} and owner = ${owner} and token = ${token}`.execute(this.db);
  }

  async holder(): Promise<LockHolder | null> {
    const row = await this.#read(this.db, false);
    if (!row?.owner || Number(row.expired) === 1) return null;
    return { owner: row.owner, since: toDate(row.acquired_at), expiresAt: toDate(row.expires_at) };
  }

  async forceRelease(): Promise<LockHolder | null> {
    return this.db.transaction().execute(async (trx) => {
      const row = await this.#read(trx, true);
      if (!row?.owner || Number(row.expired) === 1) return null;
      await sql`
        update ${this.tables.lock} set owner = null, expires_at = utc_timestamp(6)
        where ${sql.ref('key')} = ${this.row}`.execute(trx);
      return { owner: row.owner, since: toDate(row.acquired_at) };
    });
  }
}

function toDate(value: string | null): Date | undefined {
  return value === null ? undefined : new Date(value);
}
