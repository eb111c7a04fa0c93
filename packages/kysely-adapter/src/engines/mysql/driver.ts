import { MysqlAdapter, MysqlQueryCompiler, sql } from 'kysely';
import { isAdapterOf } from '../../brand.js';
import { compilerOnly } from '../../lint/compiler.js';
import { missingDriver, serverTarget, serverWhere } from '../../locations.js';
import type { EngineDriver } from '../driver.js';
import { findMysqlTables } from './catalog.js';
import { isMysqlSessionEnded, isMysqlTransientConnectionError } from './errors.js';
import { createMysqlLeasePrimitive } from './lease.js';
import { createMysqlSessionPrimitive, readMysqlLockHolder } from './lock.js';
import { splitMysqlStatements } from './split.js';
import { createMysqlStoreEngine } from './store.js';
import { mysqlTenants } from './tenants.js';

/**
 * MySQL and MariaDB through mysql2: GET_LOCK as the advisory lock, a lease row, InnoDB transactions for
 * data, and DDL that commits statement by statement (said plainly when a migration fails halfway).
 */
export const mysqlDriver: EngineDriver = {
  capabilities: Object.freeze({
    engine: 'mysql',
    system: 'mysql',
    embedded: false,
    transactionalDdl: false,
    sessionLocks: true,
    schemas: false,
  }),
  label: "MySQL and MariaDB (Kysely's MysqlDialect with mysql2)",
  urls: { schemes: ['mysql', 'mariadb'], forms: ['mysql://…', 'mariadb://…'] },
  locate: (url, scheme) => ({ engine: 'mysql', url, system: scheme === 'mariadb' ? 'mariadb' : 'mysql' }),
  describe: (location) => serverTarget(location.url, location.system ?? 'mysql', '3306', ''),
  where: serverWhere,
  async openDialect(location, options) {
    // The driver first, to name it when it is missing; the dialect loads it again (cached) on first query.
    await import('mysql2').catch(missingDriver('mysql2'));
    const { createMysqlDialect } = await import('./dialect.js');
    return createMysqlDialect({
      url: location.url,
      maxConnections: options.maxConnections,
      connectTimeoutMs: options.connectTimeoutMs,
      onConnectionError: options.onConnectionError,
    });
  },
  recognize: (adapter) => (isAdapterOf(adapter, MysqlAdapter) ? 'certain' : false),
  defaultNamespace: 'mysql',
  tenants: mysqlTenants,
  createStore: createMysqlStoreEngine,
  split: splitMysqlStatements,
  locks: {
    lease: ({ db, tables, logger }) => createMysqlLeasePrimitive({ db, tables, logger }),
    session: ({ db, tables }) => createMysqlSessionPrimitive({ db, tables }),
    sessionHolder: readMysqlLockHolder,
    stopHolder: (holder) => (holder.pid === undefined ? undefined : `kill ${holder.pid};`),
    sessionNote:
      'The advisory lock (GET_LOCK) needs no unlock: the server releases it the moment the holding session ends ' +
      '(a crashed holder included).',
  },
  isTransientConnectionError: isMysqlTransientConnectionError,
  isSessionEnded: isMysqlSessionEnded,
  async serverProduct(db) {
    const { rows } = await sql<{ v: string }>`select version() as v`.execute(db);
    return productOf(rows[0]?.v);
  },
  findTables: findMysqlTables,
  lint: {
    // No parser to load: the rules read each statement's clauses from its tokens.
    rules: async (text) => (await import('./lint.js')).lintMysqlSql(text),
    compiler: () =>
      compilerOnly(
        () => new MysqlAdapter(),
        () => new MysqlQueryCompiler(),
      ),
  },
};

/** "10.11.6-MariaDB-0+deb12u1" → "MariaDB 10.11"; "8.0.36" → "MySQL 8.0". */
export function productOf(version: string | undefined): string | undefined {
  const match = /^(?:5\.5\.5-)?(\d+)\.(\d+)/.exec(version ?? '');
  if (!match) return undefined;
  return `${/mariadb/i.test(version ?? '') ? 'MariaDB' : 'MySQL'} ${match[1]}.${match[2]}`;
}
