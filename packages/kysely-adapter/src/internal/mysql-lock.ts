import type { LeaseGrant, LockChange, LockHolder, LockSession, SessionLockPrimitive, TryLockResult } from '@mig/core';
import { sql } from 'kysely';
import type { MigrationDb } from '../sources.js';
import { ADVISORY_CLASS_ID, advisoryObjectId } from './advisory.js';
import type { AdminLeasePrimitive, AdvisoryFence, LeaseFence } from './fence.js';
import { type HeldConnection, holdConnection } from './held-connection.js';
import { isMysqlLockCollision, isMysqlTransientConnectionError } from './mysql-errors.js';
import { storeLockName, utcText } from './mysql-fence.js';
import type { StoreTables } from './tables.js';

export interface MysqlLockOptions {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
}

/**
 * MySQL/MariaDB's GET_LOCK on one dedicated connection, which also runs the migrations (the store is bound
 * to it through the fence). Each attempt is `GET_LOCK(name, 0)`, which never waits; between attempts a
 * waiter waits in GET_LOCK itself for a bounded slice (`waitForChange`), so it wakes the moment the holder
 * lets go. The server releases the lock when the connection ends, so a holder killed with SIGKILL leaves
 * nothing to unlock.
 */
export function createMysqlSessionPrimitive(options: MysqlLockOptions): SessionLockPrimitive<AdvisoryFence> {
  return {
    strategy: 'advisory',
    key: `GET_LOCK on ${options.tables.qualified}`,
    open: () => MysqlLockSession.open(options),
  };
}

/** One dedicated connection that tries, holds and releases the GET_LOCK. */
class MysqlLockSession implements LockSession<AdvisoryFence> {
  readonly #session: HeldConnection;
  readonly #name: string;
  readonly #key: string;
  #held = false;

  private constructor(session: HeldConnection, name: string, key: string) {
    this.#session = session;
    this.#name = name;
    this.#key = key;
  }

  static async open(options: MysqlLockOptions): Promise<MysqlLockSession> {
    const session = await holdConnection(options.db);
    try {
      const name = await storeLockName(session.conn, options.tables);
      return new MysqlLockSession(session, name, `GET_LOCK("${name}") on ${options.tables.qualified}`);
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  async tryLock(): Promise<TryLockResult<AdvisoryFence>> {
    const conn = this.#session.conn;
    // Taken already, at the end of a wait (GET_LOCK counts nested grants: never ask twice).
    if (!this.#held) {
      const { rows } = await sql<{ acquired: number | string | null }>`
        select get_lock(${this.#name}, 0) as acquired`.execute(conn);
      if (Number(rows[0]?.acquired ?? 0) !== 1) return { acquired: false, holder: null };
    }
    this.#held = true;
    const fence: AdvisoryFence = {
      kind: 'advisory',
      classId: ADVISORY_CLASS_ID,
      objId: advisoryObjectId(this.#name),
      key: this.#key,
      lockName: this.#name,
      db: conn,
    };
    return { acquired: true, value: fence };
  }

  holder(): Promise<LockHolder | null> {
    return lookUpHolder(this.#session.conn, this.#name);
  }

  /**
   * Waits in GET_LOCK for at most `ms`: a waiting GET_LOCK holds no transaction and blocks nobody, and it
   * returns the moment the holder lets go, with the lock, which the next `tryLock` then reports. A server
   * that ignores a fractional timeout (and returns at once) is waited out here, so a waiter never spins.
   */
  async waitForChange(ms: number, signal?: AbortSignal): Promise<LockChange> {
    if (this.#held || signal?.aborted) return { kind: 'released' };
    const started = performance.now();
    const { rows } = await sql<{ acquired: number | string | null }>`
      select get_lock(${this.#name}, ${Math.max(0, Math.round(ms)) / 1000}) as acquired`.execute(this.#session.conn);
    if (Number(rows[0]?.acquired ?? 0) === 1) {
      this.#held = true;
      return { kind: 'released' };
    }
    const left = ms - (performance.now() - started);
    if (left > ms / 2) await new Promise((resolve) => setTimeout(resolve, left));
    return { kind: 'timeout' };
  }

  async unlock(): Promise<boolean> {
    const conn = this.#session.conn;
    // A failed migration may have left a transaction open on this connection.
    await sql`rollback`.execute(conn).catch(() => {});
    const { rows } = await sql<{ released: number | string | null }>`
      select release_lock(${this.#name}) as released`.execute(conn);
    this.#held = false;
    return Number(rows[0]?.released ?? 0) === 1;
  }

  async close(): Promise<void> {
    // The connection goes back to the application's pool: it must not go back holding the lock.
    if (this.#held) {
      await sql`rollback`.execute(this.#session.conn).catch(() => {});
      await sql`select release_lock(${this.#name})`.execute(this.#session.conn).catch(() => {});
    }
    await this.#session.close();
  }
}

interface HolderRow {
  id: number | string | null;
  user: string | null;
  host: string | null;
  time: number | string | null;
  info: string | null;
}

/** Who holds the GET_LOCK of this store now (any connection to the server), or null. Takes nothing. */
export async function readMysqlLockHolder(db: MigrationDb, tables: StoreTables): Promise<LockHolder | null> {
  return lookUpHolder(db, await storeLockName(db, tables));
}

/**
 * The holder's connection id from IS_USED_LOCK, and what the processlist says of it: user, client host and
 * port, how long it has been in its current state, and what it is running (a migration's statement).
 */
async function lookUpHolder(db: MigrationDb, name: string): Promise<LockHolder | null> {
  const { rows } = await sql<HolderRow>`
    select h.id, p.user, p.host, p.time, p.info
    from (select is_used_lock(${name}) as id) h
    left join information_schema.processlist p on p.id = h.id`.execute(db);
  const row = rows[0];
  if (!row || row.id === null) return null;
  const id = Number(row.id);
  const where = row.user || row.host ? ` (${[row.user, row.host].filter(Boolean).join('@')})` : '';
  const running = row.info ? `, running "${shorten(row.info)}"` : '';
  return {
    owner: `MySQL connection ${id}${where}${running}`,
    since: row.time === null ? undefined : new Date(Date.now() - Number(row.time) * 1000),
  };
}

function shorten(statement: string): string {
  const flat = statement.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}

interface LeaseRow {
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
export function createMysqlLeasePrimitive(options: MysqlLockOptions): AdminLeasePrimitive {
  return new MysqlLease(options.db, options.tables);
}

class MysqlLease implements AdminLeasePrimitive {
  readonly strategy = 'lease';
  readonly key: string;
  // The lease row is in the store's `_lock` table: the tables are created before the lock is taken.
  readonly livesInStore = true;
  readonly #db: MigrationDb;
  readonly #tables: StoreTables;

  constructor(db: MigrationDb, tables: StoreTables) {
    this.#db = db;
    this.#tables = tables;
    this.key = `lease lock on ${tables.qualified}`;
  }

  get #row(): string {
    return this.#tables.qualified;
  }

  async tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<LeaseFence>>> {
    try {
      return await this.#db.transaction().execute((trx) => this.#attempt(trx, owner, ttlMs));
    } catch (error) {
      // A collision with another attempt, or a connection refused for now: no attempt was made, and the
      // wait tries again after its backoff, within its timeout.
      if (isMysqlLockCollision(error) || isMysqlTransientConnectionError(error)) {
        return { acquired: false, holder: null };
      }
      throw error;
    }
  }

  async #attempt(trx: MigrationDb, owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<LeaseFence>>> {
    const { lock } = this.#tables;
    const key = this.#row;
    const row = await this.#read(trx, true);
    const micros = Math.max(0, Math.round(ttlMs * 1000));
    if (!row) {
      await sql`
        insert into ${lock} (${sql.ref('key')}, owner, token, acquired_at, expires_at)
        values (${key}, ${owner}, 1, utc_timestamp(6), utc_timestamp(6) + interval ${micros} microsecond)`.execute(trx);
    } else if (Number(row.expired) === 1 || row.owner === owner) {
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
      return { acquired: false, holder };
    }
    const taken = await this.#read(trx, false);
    if (!taken) throw new Error('The lease row vanished inside the transaction that wrote it.');
    const token = String(taken.token);
    const fence: LeaseFence = { kind: 'lease', key, token };
    return { acquired: true, value: { token, expiresAt: toDate(taken.expires_at) ?? new Date(), fence } };
  }

  async #read(db: MigrationDb, forUpdate: boolean): Promise<LeaseRow | undefined> {
    const { rows } = await sql<LeaseRow>`
      select owner, cast(token as char) as token, ${utcText('acquired_at')} as acquired_at,
        ${utcText('expires_at')} as expires_at, expires_at <= utc_timestamp(6) as expired
      from ${this.#tables.lock} where ${sql.ref('key')} = ${this.#row}
      ${forUpdate ? sql`for update` : sql``}`.execute(db);
    return rows[0];
  }

  async renew(owner: string, token: string, ttlMs: number): Promise<Date | null> {
    const micros = Math.max(0, Math.round(ttlMs * 1000));
    return this.#db.transaction().execute(async (trx) => {
      const result = await sql`
        update ${this.#tables.lock} set expires_at = utc_timestamp(6) + interval ${micros} microsecond
        where ${sql.ref('key')} = ${this.#row} and owner = ${owner} and token = ${token}
          and expires_at > utc_timestamp(6)`.execute(trx);
      if (Number(result.numAffectedRows ?? 0) === 0) return null;
      return toDate((await this.#read(trx, false))?.expires_at ?? null) ?? null;
    });
  }

  async release(owner: string, token: string): Promise<void> {
    // The row stays (with its token) so the next grant's token is larger: fencing survives a release.
    await sql`
      update ${this.#tables.lock} set owner = null, expires_at = utc_timestamp(6)
      where ${sql.ref('key')} = ${this.#row} and owner = ${owner} and token = ${token}`.execute(this.#db);
  }

  async holder(): Promise<LockHolder | null> {
    const row = await this.#read(this.#db, false);
    if (!row?.owner || Number(row.expired) === 1) return null;
    return { owner: row.owner, since: toDate(row.acquired_at), expiresAt: toDate(row.expires_at) };
  }

  async forceRelease(): Promise<LockHolder | null> {
    return this.#db.transaction().execute(async (trx) => {
      const row = await this.#read(trx, true);
      if (!row?.owner || Number(row.expired) === 1) return null;
      await sql`
        update ${this.#tables.lock} set owner = null, expires_at = utc_timestamp(6)
        where ${sql.ref('key')} = ${this.#row}`.execute(trx);
      return { owner: row.owner, since: toDate(row.acquired_at) };
    });
  }
}

function toDate(value: string | null): Date | undefined {
  return value === null ? undefined : new Date(value);
}
