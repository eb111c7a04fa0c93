import { SqliteAdapter } from 'kysely';
import { isAdapterOf } from '../../brand.js';
import { filePath, missingDriver } from '../../locations.js';
import type { EngineDriver } from '../driver.js';
import { findSqliteTables } from './catalog.js';
import { createSqliteLeasePrimitive } from './lease.js';
import { splitSqliteStatements } from './split.js';
import { createSqliteStoreEngine } from './store.js';
import { sqliteTenantFiles } from './tenants.js';

/**
 * A SQLite file through better-sqlite3, shared by several processes: the lease row is its only lock, and
 * every write a BEGIN IMMEDIATE transaction.
 */
export const sqliteDriver: EngineDriver = {
  capabilities: Object.freeze({
    engine: 'sqlite',
    system: 'sqlite',
    // Several processes may share one file: the lock is a lease row, and each write a BEGIN IMMEDIATE.
    embedded: false,
    transactionalDdl: true,
    sessionLocks: false,
    schemas: false,
  }),
  label: "SQLite (Kysely's SqliteDialect with better-sqlite3)",
  urls: { schemes: ['sqlite', 'file'], forms: ['sqlite:PATH', 'file:PATH'] },
  locate: (url, scheme, rest) => ({ engine: 'sqlite', url, path: filePath(rest, scheme) }),
  describe: (location) => ({ system: 'sqlite', namespace: location.path ?? ':memory:', server: 'file' }),
  where: (target) => `SQLite ${target.namespace}`,
  async openDialect(location) {
    // The driver first, to name it when it is missing; the dialect loads it again (cached) on first query.
    await import('better-sqlite3').catch(missingDriver('better-sqlite3'));
    const { createSqliteDialect } = await import('./dialect.js');
    return createSqliteDialect({ path: location.path ?? ':memory:' });
  },
  recognize: (adapter) => (isAdapterOf(adapter, SqliteAdapter) ? 'certain' : false),
  defaultNamespace: 'sqlite',
  tenantFiles: sqliteTenantFiles,
  createStore: createSqliteStoreEngine,
  split: splitSqliteStatements,
  locks: {
    lease: ({ db, tables, logger }) => createSqliteLeasePrimitive({ db, tables, logger }),
    // Nothing tells a waiter that the holder let go, and a poll is a read of a local file (no server, no
    // round trip) that blocks no writer under WAL: poll often.
    leaseBackoff: Object.freeze({ initialDelayMs: 10, maxDelayMs: 50 }),
    sessionNote:
      'SQLite has no advisory lock: mig always uses the lease there, and the file locks of a killed process end ' +
      'with it.',
  },
  // A file that is busy is a lock wait (SQLITE_BUSY), not a refused connection.
  isTransientConnectionError: () => false,
  // The file lives in this process: there is no session another one could end.
  isSessionEnded: () => false,
  findTables: findSqliteTables,
};
