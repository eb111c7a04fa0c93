import type { PostgresDialect } from 'kysely';
import { missingDriver } from '../../locations.js';
import { createPoolDialect } from './pool-dialect.js';

export interface PgDialectOptions {
  /** A PostgreSQL connection string. */
  readonly url: string;
  /** Most connections in the pool. Default 10. The advisory lock strategy needs 1, the lease strategy 2. */
  readonly max?: number | undefined;
  /** Shown in pg_stat_activity, and in mig's lock-wait messages about this instance. */
  readonly applicationName?: string | undefined;
  /** Longest wait for a new connection (and for a free one in the pool). Default 10 s; never unbounded. */
  readonly connectTimeoutMs?: number | undefined;
  /** Close connections idle this long. Default 10 s. */
  readonly idleTimeoutMs?: number | undefined;
  /**
   * Called when a connection fails outside a query (the server restarted, a backend was terminated).
   * Without a listener, pg would raise such an error as an uncaught exception and end the process.
   */
  readonly onConnectionError?: ((error: Error) => void) | undefined;
}

/**
 * A Kysely dialect on a pg pool, set up the way a service needs it: bounded connect waits, and connection
 * errors delivered to a callback instead of crashing the process.
 *
 * @example
 * const db = new Kysely<DB>({ dialect: createPgDialect({ url: process.env.DATABASE_URL!, applicationName: 'api' }) });
 */
export function createPgDialect(options: PgDialectOptions): PostgresDialect {
  // pg, and the pool, when the first query runs: never at import, so a bundle that includes this module
  // builds and starts without pg installed (`openDatabase` loads it up front, to name it when missing).
  const pool = async () => {
    const { default: pg } = await import('pg').catch(missingDriver('pg'));
    return new pg.Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      application_name: options.applicationName,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
      // A server that vanished (a failover) is noticed by TCP keepalive instead of after hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
  };
  return createPoolDialect(pool, 'postgres', options.onConnectionError);
}
