import type { LockChange, LockHolder, LockSession, SessionLockPrimitive, TryLockResult } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { AdvisoryFence } from '../../fence.js';
import { type HeldConnection, holdConnectionWhenFree } from '../../held-connection.js';
import type { StoreTables } from '../../tables.js';
import { isMysqlTransientConnectionError } from './errors.js';
import { storeLockName } from './fence.js';

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
    open: (signal) => MysqlLockSession.open(options, signal),
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

  static async open(options: MysqlLockOptions, signal?: AbortSignal): Promise<MysqlLockSession> {
    const session = await holdConnectionWhenFree(options.db, isMysqlTransientConnectionError, signal);
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
    const fence: AdvisoryFence = { kind: 'advisory', key: this.#key, lockName: this.#name, db: conn };
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
