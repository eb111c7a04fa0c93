import { PostgresAdapter, sql } from 'kysely';
import { isAdapterOf } from '../../brand.js';
import { loadDriver, serverTarget, serverWhere } from '../../locations.js';
import type { EngineDriver } from '../driver.js';
import { createAdvisoryPrimitive, readAdvisoryHolder } from './advisory.js';
import { findPostgresTables } from './catalog.js';
import { isTransientConnectionError } from './errors.js';
import { createLeasePrimitive } from './lease.js';
import { splitPostgresStatements } from './split.js';
import { PostgresStoreEngine } from './store.js';

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
  locate: (url) => ({ engine: 'postgres', url }),
  describe: (location) => serverTarget(location.url, 'postgresql', '5432', 'postgres'),
  where: serverWhere,
  async openDialect(location, options) {
    const { createPgDialect } = await loadDriver('pg', () => import('./dialect.js'));
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
  findTables: findPostgresTables,
};
