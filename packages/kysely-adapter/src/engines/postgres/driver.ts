import { InvalidOptionError } from '@mig/core';
import { PostgresAdapter, PostgresQueryCompiler, sql } from 'kysely';
import { isAdapterOf } from '../../brand.js';
import { compilerOnly } from '../../lint/compiler.js';
import { missingDriver, serverTarget, serverWhere } from '../../locations.js';
import type { EngineDriver } from '../driver.js';
import { createAdvisoryPrimitive, readAdvisoryHolder } from './advisory.js';
import { findPostgresTables } from './catalog.js';
import { isSessionEnded, isTransientConnectionError } from './errors.js';
import { createLeasePrimitive } from './lease.js';
import { splitPostgresStatements } from './split.js';
import { PostgresStoreEngine } from './store.js';
import { postgresTenants } from './tenants.js';

/** PostgreSQL through pg: advisory and lease locks, transactional DDL, LISTEN/NOTIFY for lock waiters. */
export const postgresDriver: EngineDriver = {
  capabilities: Object.freeze({
    engine: 'postgres',
    system: 'postgresql',
    embedded: false,
    transactionalDdl: true,
    sessionLocks: true,
    schemas: true,
  }),
  label: "PostgreSQL (Kysely's PostgresDialect with pg)",
  urls: { schemes: ['postgres', 'postgresql'], forms: ['postgres://…', 'postgresql://…'] },
  locate(url) {
    if (databaseOf(url) === '') {
      throw new InvalidOptionError(
        'url',
        'The PostgreSQL URL names no database: add it after the host and port, as in ' +
          'postgres://user@host:5432/DATABASE (the driver would otherwise connect to a database named after the user).',
        { context: { reason: 'no-database' } },
      );
    }
    return { engine: 'postgres', url };
  },
  describe: (location) => serverTarget(location.url, 'postgresql', '5432', 'postgres'),
  where: serverWhere,
  async openDialect(location, options) {
    // The driver first, to name it when it is missing; the dialect loads it again (cached) on first query.
    const [, { createPgDialect }] = await Promise.all([
      import('pg').catch(missingDriver('pg')),
      import('./dialect.js'),
    ]);
    return createPgDialect({
      url: location.url,
      applicationName: options.applicationName,
      max: options.maxConnections,
      connectTimeoutMs: options.connectTimeoutMs,
      onConnectionError: options.onConnectionError,
    });
  },
  // A PostgreSQL adapter without mig's brand may be PGlite behind another package's dialect: ask.
  recognize: (adapter) => (isAdapterOf(adapter, PostgresAdapter) ? 'maybe' : false),
  async confirm(db) {
    const { rows } = await sql<{ version: string }>`select version() as version`.execute(db);
    return /pglite|emscripten|wasm32/i.test(rows[0]?.version ?? '') ? 'pglite' : 'postgres';
  },
  defaultNamespace: 'postgres',
  tenants: postgresTenants,
  createStore: (tables, settings) => new PostgresStoreEngine(tables, settings, { notifies: true, embedded: false }),
  split: splitPostgresStatements,
  locks: {
    lease: ({ db, tables, logger }) => createLeasePrimitive({ db, tables, logger }),
    session: ({ db, tables, clientCheckIntervalMs }) => createAdvisoryPrimitive({ db, tables, clientCheckIntervalMs }),
    sessionHolder: readAdvisoryHolder,
    stopHolder: (holder) => (holder.pid === undefined ? undefined : `select pg_terminate_backend(${holder.pid});`),
    sessionNote:
      'Advisory locks need no unlock: PostgreSQL releases them the moment the holding session ends (a crashed ' +
      'holder included).',
  },
  isTransientConnectionError,
  isSessionEnded,
  findTables: findPostgresTables,
  lint: postgresLint(),
};

/** PostgreSQL's lint: its own parser and rules, loaded on the first lint. */
export function postgresLint(): NonNullable<EngineDriver['lint']> {
  return {
    rules: async (text) => (await import('./lint.js')).lintPostgresSql(text),
    compiler: () =>
      compilerOnly(
        () => new PostgresAdapter(),
        () => new PostgresQueryCompiler(),
      ),
  };
}

/** The database a PostgreSQL URL names: its path, or a `database` parameter; '' when it names none. */
function databaseOf(url: string): string {
  try {
    const parsed = new URL(url);
    return decodeURIComponent(parsed.pathname.replace(/^\//, '')) || (parsed.searchParams.get('database') ?? '');
  } catch {
    // A password with unencoded characters: the path is whatever follows the authority.
    const path = /^[a-z]+:\/\/[^/?#]*\/([^?#]*)/i.exec(url)?.[1] ?? '';
    return path || (/[?&]database=([^&#]+)/.exec(url)?.[1] ?? '');
  }
}
