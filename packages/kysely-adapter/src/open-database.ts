import { MigError, MigErrorCode, type StoreTarget } from '@mig/core';
import { Kysely } from 'kysely';
import { type DatabaseLocation, describeConnection, describeWhere, parseDatabaseUrl } from './connection.js';
import type { Engine } from './engine.js';

export interface OpenDatabaseOptions {
  /** Shown in pg_stat_activity and in lock-wait messages about this instance. */
  readonly applicationName?: string | undefined;
  /** Most connections in the pool (PostgreSQL, MySQL). Default 10. */
  readonly maxConnections?: number | undefined;
  /** Longest wait for a connection. Default 10 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** Connection errors outside a query (a server restart): reported here instead of crashing the process. */
  readonly onConnectionError?: ((error: Error) => void) | undefined;
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
  const db = new Kysely<DB>({ dialect: await dialectFor(location, options) });
  return { db, engine: location.engine, target: describeConnection(url), where: describeWhere(url) };
}

async function dialectFor(location: DatabaseLocation, options: OpenDatabaseOptions) {
  switch (location.engine) {
    case 'postgres': {
      const { createPgDialect } = await loadDriver('pg', () => import('./pg/pg-dialect.js'));
      return createPgDialect({
        url: location.url,
        applicationName: options.applicationName,
        max: options.maxConnections,
        connectTimeoutMs: options.connectTimeoutMs,
        onConnectionError: options.onConnectionError,
      });
    }
    case 'mysql': {
      // The driver first, to name it when it is missing; the dialect loads it again (cached) on first query.
      await loadDriver('mysql2', () => import('mysql2'));
      const { createMysqlDialect } = await import('./mysql/mysql-dialect.js');
      return createMysqlDialect({
        url: location.url,
        maxConnections: options.maxConnections,
        connectTimeoutMs: options.connectTimeoutMs,
        onConnectionError: options.onConnectionError,
      });
    }
    case 'sqlite': {
      // The driver first, to name it when it is missing; the dialect loads it again (cached) on first query.
      await loadDriver('better-sqlite3', () => import('better-sqlite3'));
      const { createSqliteDialect } = await import('./sqlite/sqlite-dialect.js');
      return createSqliteDialect({ path: location.path });
    }
    case 'pglite': {
      const [{ PGlite }, { PGliteDialect }, { mkdir }] = await Promise.all([
        loadDriver('@electric-sql/pglite', () => import('@electric-sql/pglite')),
        import('./pglite/pglite-dialect.js'),
        import('node:fs/promises'),
      ]);
      const { dir } = location;
      return new PGliteDialect({
        // Created on first use, so opening touches nothing. bigint columns come back as strings, as pg
        // returns them, so code reads the same on both engines.
        pglite: async () => {
          if (!dir.includes('://')) await mkdir(dir, { recursive: true });
          return new PGlite(dir, { parsers: { 20: (value: string) => value } });
        },
      });
    }
  }
}

/** Imports a driver, or says which package to install. */
async function loadDriver<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    if (missing && String(message).includes(`'${name}'`)) {
      throw new MigError(
        MigErrorCode.InvalidOption,
        `This database URL needs the package "${name}", which is not installed. Install it (npm install ${name}) and run again.`,
        { cause: error, context: { package: name } },
      );
    }
    throw error;
  }
}
