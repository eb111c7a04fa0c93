import type {
  LockChange,
  LockHolder,
  LockSession,
  SessionLockPrimitive,
  StoreHead,
  TryLockResult,
} from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { AdvisoryFence } from '../../fence.js';
import { type HeldConnection, holdConnectionWhenFree } from '../../held-connection.js';
import type { StoreTables } from '../../tables.js';
import { isTransientConnectionError, sqlState } from './errors.js';
import { headNotice, type NotificationHub, notificationsOf, readHeadNotice } from './notifications.js';

/** First key of every mig advisory lock: "mig" in ASCII, so mig's locks are easy to spot in pg_locks. */
export const ADVISORY_CLASS_ID = 0x6d6967;

/** FNV-1a, 31 bits: the second advisory key, derived from the store's schema and table. */
export function advisoryObjectId(qualifiedTable: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(qualifiedTable, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}

/**
 * Advisory lock keys are per database: pg_locks lists every database's, so each lookup keeps to this one
 * (another service on the same server, with the same table name, must never be named as the holder).
 */
const CURRENT_DATABASE = sql`(select oid from pg_catalog.pg_database where datname = current_database())`;

/**
 * The channel on which the holder NOTIFYs waiters (its progress at most every 500 ms, and when it lets go), so
 * they can sleep instead of polling: one per store, like the lock key.
 */
export function changeChannel(tables: StoreTables): string {
  return `mig_${advisoryObjectId(tables.qualified)}`;
}

export interface AdvisoryPrimitiveOptions {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
  /** Abort a statement whose client has gone (kill -9) within this many ms; 0 leaves the server default. */
  readonly clientCheckIntervalMs: number;
}

interface HolderRow {
  holder_pid: number | null;
  holder_app: string | null;
  holder_since: Date | string | null;
}

/**
 * PostgreSQL session advisory lock on one dedicated connection. The key is (ADVISORY_CLASS_ID, hash of
 * schema.table), so two apps or tenants with their own tables in one database never block each other.
 * Attempts use `pg_try_advisory_lock` and report who holds the lock, in the same statement.
 */
export function createAdvisoryPrimitive(options: AdvisoryPrimitiveOptions): SessionLockPrimitive<AdvisoryFence> {
  const keys = advisoryKeys(options.tables);
  return {
    strategy: 'advisory',
    key: keys.key,
    open: (signal) => AdvisorySession.open(options, keys, signal),
  };
}

interface AdvisoryKeys {
  readonly classId: number;
  readonly objId: number;
  /** Where the holder tells waiters of changes (see {@link changeChannel}). */
  readonly channel: string;
  /** For messages: "advisory lock (7170407, 732521539) on public.mig_migrations". */
  readonly key: string;
}

function advisoryKeys(tables: StoreTables): AdvisoryKeys {
  const classId = ADVISORY_CLASS_ID;
  const objId = advisoryObjectId(tables.qualified);
  return {
    classId,
    objId,
    channel: changeChannel(tables),
    key: `advisory lock (${classId}, ${objId}) on ${tables.qualified}`,
  };
}

/** One dedicated connection that tries, holds and releases the advisory lock. */
class AdvisorySession implements LockSession<AdvisoryFence> {
  readonly #session: HeldConnection;
  readonly #keys: AdvisoryKeys;
  readonly #checking: boolean;
  readonly #changes: ChangeListener | undefined;
  #held = false;
  /** Set only where the pool delivers notifications (mig's pg dialect): then waiters sleep, not poll. */
  readonly waitForChange?: (ms: number, signal?: AbortSignal) => Promise<LockChange>;

  private constructor(
    session: HeldConnection,
    keys: AdvisoryKeys,
    checking: boolean,
    hub: NotificationHub | undefined,
  ) {
    this.#session = session;
    this.#keys = keys;
    this.#checking = checking;
    if (hub) {
      const changes = new ChangeListener(session.conn, hub, keys.channel);
      this.#changes = changes;
      this.waitForChange = (ms, signal) => changes.next(ms, signal);
    }
  }

  static async open(
    options: AdvisoryPrimitiveOptions,
    keys: AdvisoryKeys,
    signal?: AbortSignal,
  ): Promise<AdvisorySession> {
    const session = await holdConnectionWhenFree(options.db, isTransientConnectionError, signal);
    let checking = false;
    if (options.clientCheckIntervalMs > 0) {
      try {
        // If this process dies in the middle of a long statement, the server notices within this interval
        // and ends the session, which releases the lock and rolls the migration back.
        await sql`select set_config('client_connection_check_interval', ${String(options.clientCheckIntervalMs)}, false)`.execute(
          session.conn,
        );
        checking = true;
      } catch (error) {
        // PostgreSQL before 14 has no such setting; a dead client is then noticed when its statement ends.
        if (sqlState(error) !== '42704') {
          await session.close();
          throw error;
        }
      }
    }
    return new AdvisorySession(session, keys, checking, notificationsOf(options.db));
  }

  /** One statement, no catalog reads: who holds the lock is looked up only when someone asks (`holder`). */
  async tryLock(): Promise<TryLockResult<AdvisoryFence>> {
    const { classId, objId, key } = this.#keys;
    const conn = this.#session.conn;
    const { rows } = await sql<{ acquired: boolean }>`
      select pg_try_advisory_lock(${classId}::int, ${objId}::int) as acquired`.execute(conn);
    if (!rows[0]?.acquired) return { acquired: false, holder: null };
    this.#held = true;
    return { acquired: true, value: { kind: 'advisory', key, db: conn } };
  }

  holder(): Promise<LockHolder | null> {
    return lookUpHolder(this.#session.conn, this.#keys, true);
  }

  async unlock(reached?: StoreHead): Promise<boolean> {
    let released: boolean;
    try {
      released = await this.#unlockOnce(reached);
    } catch {
      // E.g. a failed non-transactional migration left the session in an aborted transaction.
      await sql`rollback`.execute(this.#session.conn).catch(() => {});
      released = await this.#unlockOnce(reached);
    }
    this.#held = false;
    return released;
  }

  /** Lets go and tells the waiters, with the head the holder left where it knows it, in one statement. */
  async #unlockOnce(reached: StoreHead | undefined): Promise<boolean> {
    const { classId, objId, channel } = this.#keys;
    const notice = headNotice('released', reached);
    const { rows } = await sql<{ released: boolean }>`
      select pg_advisory_unlock(${classId}::int, ${objId}::int) as released, pg_notify(${channel}, ${notice})`.execute(
      this.#session.conn,
    );
    return rows[0]?.released === true;
  }

  async close(): Promise<void> {
    const conn = this.#session.conn;
    // The connection goes back to the application's pool: it must not go back holding the lock.
    if (this.#held) {
      await sql`rollback`.execute(conn).catch(() => {});
      await sql`select pg_advisory_unlock_all()`.execute(conn).catch(() => {});
    }
    await this.#changes?.close();
    if (this.#checking) await sql`reset client_connection_check_interval`.execute(conn).catch(() => {});
    await this.#session.close();
  }
}

/**
 * The holder's notices on a waiter's own session: `LISTEN` once (the session then holds no transaction,
 * so no snapshot that a CREATE INDEX CONCURRENTLY in the holder would wait for), then each notice wakes
 * the wait: "applied:<count>" as the holder records migrations (at a bounded rate), "released" when it lets go.
 */
class ChangeListener {
  readonly #conn: MigrationDb;
  readonly #hub: NotificationHub;
  readonly #channel: string;
  readonly #queue: LockChange[] = [];
  #wake: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(conn: MigrationDb, hub: NotificationHub, channel: string) {
    this.#conn = conn;
    this.#hub = hub;
    this.#channel = channel;
  }

  async next(ms: number, signal?: AbortSignal): Promise<LockChange> {
    if (!this.#unsubscribe) {
      this.#unsubscribe = this.#hub.subscribe(this.#channel, (payload) => this.#notice(payload));
      await sql.raw(`LISTEN "${this.#channel}"`).execute(this.#conn);
      // A release between the failed attempt and the LISTEN would go unheard: try again at once.
      return { kind: 'timeout' };
    }
    const queued = this.#queue.shift();
    if (queued) return queued;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const onAbort = () => done();
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }
      this.#wake = done;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    this.#wake = undefined;
    return this.#queue.shift() ?? { kind: 'timeout' };
  }

  #notice(payload: string): void {
    this.#queue.push(readHeadNotice(payload));
    this.#wake?.();
  }

  async close(): Promise<void> {
    if (!this.#unsubscribe) return;
    this.#unsubscribe();
    await sql
      .raw('UNLISTEN *')
      .execute(this.#conn)
      .catch(() => {});
  }
}

function toHolder(row: HolderRow): LockHolder | null {
  if (row.holder_pid === null) return null;
  return {
    pid: Number(row.holder_pid),
    applicationName: row.holder_app || undefined,
    since: row.holder_since === null ? undefined : new Date(row.holder_since),
  };
}

/** Who holds the advisory lock now (any session of this database), or null. Reads pg_locks; takes nothing. */
export function readAdvisoryHolder(db: MigrationDb, tables: StoreTables): Promise<LockHolder | null> {
  return lookUpHolder(db, advisoryKeys(tables), false);
}

/**
 * The session of this database that holds the lock (other than the one asking, for a waiter). Its
 * query_start is when it took the lock while it is idle: mig's lock session runs nothing else between its
 * grant and the first migration.
 */
async function lookUpHolder(db: MigrationDb, keys: AdvisoryKeys, otherThanMe: boolean): Promise<LockHolder | null> {
  const { rows } = await sql<HolderRow>`
    select a.pid as holder_pid, a.application_name as holder_app, a.query_start as holder_since
    from pg_catalog.pg_locks l join pg_catalog.pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.database = ${CURRENT_DATABASE}
      and l.classid = ${keys.classId}::int::oid and l.objid = ${keys.objId}::int::oid
      and l.objsubid = 2 and l.granted ${otherThanMe ? sql`and l.pid <> pg_backend_pid()` : sql``}
    limit 1`.execute(db);
  return rows[0] ? toHolder(rows[0]) : null;
}
