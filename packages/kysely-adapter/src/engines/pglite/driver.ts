import { missingDriver } from '../../locations.js';
import type { EngineDriver } from '../driver.js';
import { findPostgresTables } from '../postgres/catalog.js';
import { postgresLint } from '../postgres/driver.js';
import { isSessionEnded, isTransientConnectionError } from '../postgres/errors.js';
import { createLeasePrimitive } from '../postgres/lease.js';
import { splitPostgresStatements } from '../postgres/split.js';
import { PostgresStoreEngine } from '../postgres/store.js';

/**
 * PGlite, PostgreSQL in WebAssembly inside this process: PostgreSQL's SQL and store, and an in-process mutex
 * for a lock (one process owns its data folder). Told from PostgreSQL by mig's dialect brand, or by a query.
 */
export const pgliteDriver: EngineDriver = {
  capabilities: Object.freeze({
    engine: 'pglite',
    system: 'postgresql',
    embedded: true,
    transactionalDdl: true,
    sessionLocks: false,
    schemas: true,
  }),
  label: 'PGlite (PGliteDialect of @mig/kysely-adapter/pglite)',
  urls: { schemes: ['pglite'], forms: ['pglite:DIR'] },
  locate(url, _scheme, rest) {
    const dir = rest.replace(/^\/\//, '');
    return { engine: 'pglite', url, path: dir === '' || dir === 'memory:' ? 'memory://' : dir };
  },
  describe: (location) => ({ system: 'postgresql', namespace: location.path ?? 'memory://', server: 'embedded' }),
  where: (target) => `PGlite ${target.namespace}`,
  async openDialect(location) {
    const [{ PGlite }, { PGliteDialect }, { mkdir }] = await Promise.all([
      import('@electric-sql/pglite').catch(missingDriver('@electric-sql/pglite')),
      import('./dialect.js'),
      import('node:fs/promises'),
    ]);
    const dir = location.path ?? 'memory://';
    return new PGliteDialect({
      // Created on first use, so opening touches nothing. bigint columns come back as strings, as pg
      // returns them, so code reads the same on both engines.
      pglite: async () => {
        if (!dir.includes('://')) await mkdir(dir, { recursive: true });
        return new PGlite(dir, { parsers: { 20: (value: string) => value } });
      },
    });
  },
  // PGlite speaks PostgreSQL's dialect: known by mig's brand, or by PostgreSQL's `confirm`.
  recognize: () => false,
  defaultNamespace: 'pglite',
  createStore: (tables, settings) => new PostgresStoreEngine(tables, settings, { notifies: false, embedded: true }),
  split: splitPostgresStatements,
  locks: {
    lease: ({ db, tables, logger }) => createLeasePrimitive({ db, tables, logger }),
    sessionNote: 'PGlite has no advisory lock: one process owns its data directory, and mig locks within it.',
  },
  isTransientConnectionError,
  isSessionEnded,
  findTables: findPostgresTables,
  lint: postgresLint(),
};
