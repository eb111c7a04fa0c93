import {
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  Kysely,
  type QueryCompiler,
  SqliteIntrospector,
} from 'kysely';
import type { MigrationDb } from '../db.js';

/**
 * A Kysely instance that compiles an engine's SQL and never connects: what a code migration's SQL is captured
 * on when it is linted without a database (its queries are recorded by `previewQueries`, never executed).
 */
export function compilerOnly(adapter: () => DialectAdapter, compiler: () => QueryCompiler): MigrationDb {
  const refuse = async (): Promise<DatabaseConnection> => {
    throw new Error('mig lint compiles SQL only; it never connects to a database');
  };
  const driver: Driver = {
    async init() {},
    acquireConnection: refuse,
    async beginTransaction() {},
    async commitTransaction() {},
    async rollbackTransaction() {},
    async releaseConnection() {},
    async destroy() {},
  };
  return new Kysely({
    dialect: {
      createAdapter: adapter,
      createDriver: () => driver,
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: compiler,
    },
  });
}
