import { InvalidOptionError } from '@mig/core';
import { type StoreTarget, urlScheme } from '@mig/core/adapter';
import type { MigrationDb } from './db.js';
import { detectEngine } from './detect.js';
import type { DatabaseLocation } from './engines/driver.js';
import { DRIVERS, type Engine, engineForScheme, URL_FORMS } from './engines/registry.js';

export type { DatabaseLocation } from './engines/driver.js';
export { URL_FORMS } from './engines/registry.js';

/** A database URL as mig reads it: its engine, and where it points. */
export interface ParsedDatabaseUrl extends DatabaseLocation {
  readonly engine: Engine;
}

/**
 * Reads a database URL; each engine's driver reads its own schemes:
 * - `postgres://…` or `postgresql://…`: PostgreSQL through pg;
 * - `mysql://…` or `mariadb://…`: MySQL or MariaDB through mysql2;
 * - `sqlite:PATH` or `file:PATH`: a SQLite file through better-sqlite3 (`sqlite::memory:` for memory);
 * - `pglite:DIR`: an embedded PGlite keeping its data in DIR (`pglite:` alone, or `pglite:memory:`, in memory);
 * - `d1:PERSIST_DIR?binding=DB`: a local Cloudflare D1 as miniflare and `wrangler dev` keep it, opened through
 *   miniflare (`&id=DATABASE_ID` for a binding with a database id). In a Worker, use `createD1Dialect(env.DB)`.
 *
 * Anything else is an error naming the forms it accepts.
 *
 * @example
 * parseDatabaseUrl('pglite:./.data/pglite') // { engine: 'pglite', url: 'pglite:./.data/pglite', path: './.data/pglite' }
 * parseDatabaseUrl('sqlite:./app.db') // { engine: 'sqlite', url: 'sqlite:./app.db', path: './app.db' }
 */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  const text = url.trim();
  const scheme = urlScheme(text);
  const engine = scheme === undefined ? undefined : engineForScheme(scheme);
  if (scheme === undefined || engine === undefined) {
    throw new InvalidOptionError(
      'url',
      `Cannot connect to ${scheme ? `a "${scheme}:" URL` : 'that URL (it has no scheme)'}: mig accepts ${URL_FORMS.join(', ')}.`,
      { context: { scheme } },
    );
  }
  const location = DRIVERS[engine].locate(text, scheme, text.slice(scheme.length + 1));
  return { ...location, engine };
}

/**
 * Describes a connection for spans, cache keys and messages: host and port, database name (or the file or
 * folder of an embedded one), never the user or password.
 *
 * @example
 * describeConnection('postgres://app:secret@db.internal:5432/shop') // { system: 'postgresql', namespace: 'shop', server: 'db.internal:5432' }
 */
export function describeConnection(url: string): Omit<StoreTarget, 'table'> {
  let location: ParsedDatabaseUrl;
  try {
    location = parseDatabaseUrl(url);
  } catch {
    return { system: 'unknown', namespace: 'unknown', server: 'unknown' };
  }
  return DRIVERS[location.engine].describe(location);
}

/** "postgresql db.internal:5432/shop", "PGlite ./.data/pglite", "SQLite ./app.db": where a connection goes, for people. */
export function describeWhere(url: string): string {
  let location: ParsedDatabaseUrl;
  try {
    location = parseDatabaseUrl(url);
  } catch {
    return 'unknown unknown/unknown';
  }
  const driver = DRIVERS[location.engine];
  return driver.where(driver.describe(location));
}

/**
 * `where` as people name the server: "mysql db:3306/shop" becomes "MariaDB 10.11 db:3306/shop" when the
 * server says it is MariaDB 10.11. One query, on engines where one protocol reaches several products;
 * `where` as it is elsewhere, or when the server cannot be asked.
 */
export async function describeServerWhere(db: MigrationDb, where: string): Promise<string> {
  const product = await detectEngine(db)
    .driver.serverProduct?.(db)
    .catch(() => undefined);
  return product === undefined ? where : where.replace(/^\S+/, product);
}

/**
 * A connection refused for now, not for good (too many clients, the server starting up), as `engine` reports
 * it, or as any engine mig runs on does: retried with backoff instead of counted as a failed attempt.
 *
 * @example
 * createDatabaseService({ …, isTransientConnectError: (error) => isTransientConnectionError(error, 'mysql') });
 */
export function isTransientConnectionError(error: unknown, engine?: Engine): boolean {
  if (engine !== undefined) return DRIVERS[engine].isTransientConnectionError(error);
  return Object.values(DRIVERS).some((driver) => driver.isTransientConnectionError(error));
}
