import type { DatabaseConnection, Dialect, Driver } from 'kysely';
import { D1Dialect } from 'kysely-d1';
import { brandAdapter } from '../../brand.js';
import { attachBinding, type D1DatabaseLike } from './binding.js';

export interface D1DialectOptions {
  /** Called once the Kysely instance is destroyed (mig's `d1:` URLs dispose their miniflare there). */
  readonly onDestroy?: (() => Promise<void>) | undefined;
}

/**
 * kysely-d1's dialect on a D1 binding, marked as D1's for mig (its adapter alone reads as SQLite's) and
 * carrying the binding, so that mig sends each migration, its record and its checks in one `batch()`.
 *
 * @example
 * const db = new Kysely<DB>({ dialect: createD1Dialect(env.DB) });
 */
export function createD1Dialect(database: D1DatabaseLike, options: D1DialectOptions = {}): Dialect {
  // kysely-d1 types its option with @cloudflare/workers-types' D1Database; the slice is what it calls.
  const inner = new D1Dialect({ database: database as never });
  return {
    createAdapter: () => attachBinding(brandAdapter(inner.createAdapter(), 'd1'), database),
    createDriver: () => wrapDriver(inner.createDriver(), options.onDestroy),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db) => inner.createIntrospector(db),
  };
}

/**
 * kysely-d1's driver, delegated to by hand (its classes keep private state a prototype copy cannot reach):
 * its results lose the field Kysely warns about as outdated, and `onDestroy` runs after it is destroyed.
 */
function wrapDriver(driver: Driver, onDestroy: (() => Promise<void>) | undefined): Driver {
  return {
    init: () => driver.init(),
    async acquireConnection(): Promise<DatabaseConnection> {
      const conn = await driver.acquireConnection();
      return {
        async executeQuery(query) {
          const { numUpdatedOrDeletedRows: _, ...result } = (await conn.executeQuery(query)) as Awaited<
            ReturnType<DatabaseConnection['executeQuery']>
          > & { numUpdatedOrDeletedRows?: unknown };
          return result as never;
        },
        streamQuery: (query, chunkSize) => conn.streamQuery(query, chunkSize),
      };
    },
    async beginTransaction() {
      throw new Error(
        'D1 has no interactive transactions (kysely-d1 cannot open one): send the statements that must commit ' +
          "together with the binding's batch().",
      );
    },
    commitTransaction: async () => {},
    rollbackTransaction: async () => {},
    releaseConnection: (conn) => driver.releaseConnection(conn),
    async destroy() {
      await driver.destroy();
      await onDestroy?.();
    },
  };
}
