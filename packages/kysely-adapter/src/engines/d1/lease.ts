import type { Logger } from '@mig/core';
import type { LeaseGrant, LockHolder, TryLockResult } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { AdminLeasePrimitive, LeaseFence } from '../../fence.js';
import { LeaseRow } from '../../lease-row.js';
import type { StoreTables } from '../../tables.js';
import { holderOf, type LockRow, readLeaseRow } from '../sqlite/lease.js';
import { SQLITE_NOW, sqliteNowPlus } from '../sqlite/sql.js';
import { runBatch } from './batch.js';
import { bindingOf } from './binding.js';

/**
 * The lease lock row on D1, in the store's `_lock` table. Every operation is one conditional statement (D1
 * runs each alone, and one at a time): a grant is an upsert that writes only where the row is free (none,
 * released, expired, or this owner's), its token one larger each time, and expiry is judged by D1's clock.
 * A holder's death cannot be seen from a Worker (no processes to look at): its lease lapses at its TTL.
 */
export function createD1LeasePrimitive(options: {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
  readonly logger?: Logger | undefined;
}): AdminLeasePrimitive {
  return new D1Lease(options.db, options.tables, options.logger);
}

class D1Lease extends LeaseRow {
  async tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<LeaseFence>>> {
    const { lock, qualified } = this.tables;
    const { rows } = await sql<{ token: number | string; expires_at: string }>`
      insert into ${lock} (key, owner, token, acquired_at, expires_at)
      values (${qualified}, ${owner}, 1, ${SQLITE_NOW}, ${sqliteNowPlus(ttlMs)})
      on conflict (key) do update
        set owner = excluded.owner, token = ${lock}.token + 1, acquired_at = excluded.acquired_at,
            expires_at = excluded.expires_at
        where ${lock}.owner is null or ${lock}.expires_at <= ${SQLITE_NOW} or ${lock}.owner = excluded.owner
      returning token, expires_at`.execute(this.db);
    const row = rows[0];
    if (row === undefined) return { acquired: false, holder: holderOf(await this.#read(this.db)) };
    const token = String(row.token);
    return {
      acquired: true,
      value: { token, expiresAt: new Date(row.expires_at), fence: { kind: 'lease', key: qualified, token } },
    };
  }

  #read(db: MigrationDb): Promise<LockRow | undefined> {
    return readLeaseRow(db, this.tables);
  }

  async renew(owner: string, token: string, ttlMs: number): Promise<Date | null> {
    const { rows } = await sql<{ expires_at: string }>`
      update ${this.tables.lock} set expires_at = ${sqliteNowPlus(ttlMs)}
      where key = ${this.tables.qualified} and owner = ${owner} and token = ${Number(token)}
        and expires_at > ${SQLITE_NOW}
      returning expires_at`.execute(this.db);
    return rows[0] ? new Date(rows[0].expires_at) : null;
  }

  async release(owner: string, token: string): Promise<void> {
    // The row stays (with its token) so the next grant's token is larger: fencing survives a release.
    await sql`
      update ${this.tables.lock} set owner = null, expires_at = ${SQLITE_NOW}
      where key = ${this.tables.qualified} and owner = ${owner} and token = ${Number(token)}`.execute(this.db);
  }

  async holder(): Promise<LockHolder | null> {
    const row = await this.#read(this.db);
    return row?.owner && row.expires_at > row.now ? holderOf(row) : null;
  }

  async forceRelease(): Promise<LockHolder | null> {
    // The holder read and the lease ended in one batch: what is reported is what was cleared.
    const { lock, qualified } = this.tables;
    const [seen] = await runBatch(bindingOf(this.db), this.db, [
      sql`select owner, acquired_at from ${lock} where key = ${qualified} and owner is not null and expires_at > ${SQLITE_NOW}`,
      sql`update ${lock} set owner = null, expires_at = ${SQLITE_NOW} where key = ${qualified}`,
    ]);
    const row = seen?.results?.[0] as { owner: string; acquired_at: string | null } | undefined;
    return row ? { owner: row.owner, since: row.acquired_at ? new Date(row.acquired_at) : undefined } : null;
  }
}
