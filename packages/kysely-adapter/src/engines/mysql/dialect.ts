import { MysqlDialect, type MysqlPool, type MysqlPoolConnection } from 'kysely';
import type { Pool, PoolConnection } from 'mysql2';
import { brandAdapter } from '../../brand.js';
import { missingDriver } from '../../locations.js';
import { expectMysqlGreeting, GREETING_TIMEOUT_MS } from './greeting.js';

export interface MysqlDialectOptions {
  /** A mysql:// (or mariadb://) URL: host, port, user, password, database; options as query parameters. */
  readonly url: string;
  /** Most connections in the pool. Default 10. The GET_LOCK strategy needs 1, the lease strategy 2. */
  readonly maxConnections?: number | undefined;
  /** Longest wait for a new connection, and for a free one in the pool. Default 10 s; never unbounded. */
  readonly connectTimeoutMs?: number | undefined;
  /** Close connections idle this long. Default 10 s. */
  readonly idleTimeoutMs?: number | undefined;
  /**
   * Called when a connection fails outside a query (the server restarted, the connection was killed).
   * Without a listener, such an error would end the process as an uncaught exception.
   */
  readonly onConnectionError?: ((error: Error) => void) | undefined;
}

/**
 * A Kysely dialect on a mysql2 pool for MySQL and MariaDB, set up the way a service needs it: bounded
 * waits for a connection, TCP keepalive, and connection errors delivered to a callback instead of crashing
 * the process. `mariadb://` URLs work the same as `mysql://`.
 *
 * @example
 * const db = new Kysely<DB>({ dialect: createMysqlDialect({ url: 'mysql://app@db.internal:3306/shop' }) });
 */
export function createMysqlDialect(options: MysqlDialectOptions): MysqlDialect {
  const onError = options.onConnectionError ?? (() => {});
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  // The pool, and mysql2 with it, when the first query runs: never at import, so a bundle that includes
  // this module starts without mysql2 installed (`openDatabase` loads it up front, to name it when missing).
  const open = async (): Promise<MysqlPool> => {
    await expectMysqlGreeting(options.url, Math.min(GREETING_TIMEOUT_MS, connectTimeoutMs));
    const { createPool } = await import('mysql2').catch(missingDriver('mysql2'));
    const pool = createPool({
      // mysql2 reads the URL's parts whatever its scheme; the scheme is made mysql: for clarity.
      uri: options.url.replace(/^mariadb:/i, 'mysql:'),
      connectionLimit: options.maxConnections ?? 10,
      connectTimeout: connectTimeoutMs,
      idleTimeout: options.idleTimeoutMs ?? 10_000,
      // A server that vanished (a failover) is noticed by TCP keepalive instead of after hours.
      enableKeepAlive: true,
      keepAliveInitialDelay: 10_000,
    });
    // A pooled connection reports a failure while idle on itself; mysql2 listens only once, so every
    // connection gets a listener for its whole life.
    let connected = 0;
    pool.on('connection', (connection) => {
      connected += 1;
      connection.on('error', onError);
    });
    return boundedPool(pool, connectTimeoutMs, () => connected);
  };
  return new BrandedMysqlDialect({ pool: open });
}

/** MySQL as mig reads it from the Kysely instance. */
class BrandedMysqlDialect extends MysqlDialect {
  override createAdapter() {
    return brandAdapter(super.createAdapter(), 'mysql');
  }
}

/**
 * The pool as Kysely uses it, with the wait for a free connection bounded: mysql2 would queue a request
 * forever when every connection is busy. A connection that arrives after the deadline goes back at once.
 */
function boundedPool(pool: Pool, timeoutMs: number, connected: () => number): MysqlPool {
  return {
    getConnection(callback: (error: unknown, connection: MysqlPoolConnection) => void) {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        // Said as what it is: a server that never let a connection in, or a pool whose connections are all busy.
        const message =
          connected() === 0
            ? `No connection to the MySQL server within ${timeoutMs} ms: check that it is up and reachable at that ` +
              'host and port, and raise connectTimeoutMs for a slow network'
            : `No MySQL connection became free within ${timeoutMs} ms (all ${pool.config.connectionLimit} are in use): ` +
              'raise maxConnections or connectTimeoutMs, or look for queries that hold connections';
        callback(new Error(message), undefined as never);
      }, timeoutMs);
      timer.unref();
      pool.getConnection((error: NodeJS.ErrnoException | null, connection: PoolConnection) => {
        clearTimeout(timer);
        if (settled) {
          connection?.release();
          return;
        }
        settled = true;
        callback(error, connection as unknown as MysqlPoolConnection);
      });
    },
    end: (callback) => pool.end(callback),
  };
}
