import type { StoreTarget } from '@mig/core/adapter';
import { Kysely } from 'kysely';
import { describeConnection, describeWhere, parseDatabaseUrl } from './connection.js';
import { detectEngine } from './detect.js';
import { DRIVERS, type Engine } from './engines/registry.js';

export interface OpenDatabaseOptions {
  /** Shown in pg_stat_activity and in lock-wait messages about this instance. */
  readonly applicationName?: string | undefined;
  /** Most connections in the pool (PostgreSQL, MySQL). Default 10. */
  readonly maxConnections?: number | undefined;
  /** Longest wait for a connection. Default 10 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** Connection errors outside a query (a server restart): reported here instead of crashing the process. */
  readonly onConnectionError?: ((error: Error) => void) | undefined;
  /** A libSQL server's auth token (Turso's database token), when the URL does not carry it as `?authToken=`. */
  readonly authToken?: string | undefined;
}

/** A Kysely instance on a URL, with what mig needs to know about where it goes. */
export interface OpenedDatabase<DB> {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  /** For spans, cache keys and messages; no secrets. */
  readonly target: Omit<StoreTarget, 'table'>;
  /** "postgresql db:5432/shop", "mysql db:3306/shop", "SQLite ./app.db", "PGlite ./.data/pglite". */
  readonly where: string;
}

/**
 * A Kysely instance on a database URL (see `parseDatabaseUrl` for the forms). Each engine's driver is an
 * optional peer dependency, loaded only when its URL is used; a missing one is an error naming the package
 * to install. Nothing connects until the first query.
 *
 * @example
 * const { db } = await openDatabase<DB>('postgres://app@db.internal:5432/shop', { applicationName: 'api' });
 */
export async function openDatabase<DB>(url: string, options: OpenDatabaseOptions = {}): Promise<OpenedDatabase<DB>> {
  const location = parseDatabaseUrl(url);
  const db = new Kysely<DB>({ dialect: await DRIVERS[location.engine].openDialect(location, options) });
  return { db, engine: location.engine, target: describeConnection(url), where: describeWhere(url) };
}

/**
 * A Kysely instance the application made itself, described as `openDatabase` describes one it opens: its
 * engine read from the instance, and where it goes as far as the instance tells (its engine's default
 * namespace, `server` when given). For a database no URL reaches, such as a Worker's D1 binding.
 *
 * @example
 * const opened = describeDatabase(new Kysely<DB>({ dialect: createD1Dialect(env.DB) }), { server: 'cloudflare' });
 */
export function describeDatabase<DB>(
  db: Kysely<DB>,
  target: Partial<Omit<StoreTarget, 'table'>> = {},
): OpenedDatabase<DB> {
  const { engine, driver, capabilities } = detectEngine(db);
  const described = {
    system: target.system ?? capabilities.system,
    namespace: target.namespace ?? driver.defaultNamespace,
    server: target.server ?? 'unknown',
  };
  return { db, engine, target: described, where: driver.where(described) };
}
