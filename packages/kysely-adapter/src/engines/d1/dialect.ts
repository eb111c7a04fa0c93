import {
  type DatabaseConnection,
  type Dialect,
  type Driver,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { brandAdapter } from '../../brand.js';
import { missingDriver } from '../../locations.js';
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
  // kysely-d1's dialect is Kysely's SQLite adapter, compiler and introspector with a driver on the binding:
  // the driver is loaded when Kysely starts it, never at import, so a bundle without kysely-d1 builds.
  const driver = async (): Promise<Driver> => {
    const { D1Dialect } = await import('kysely-d1').catch(missingDriver('kysely-d1'));
    // kysely-d1 types its option with @cloudflare/workers-types' D1Database; the slice is what it calls.
    return new D1Dialect({ database: database as never }).createDriver();
  };
  return {
    createAdapter: () => attachBinding(brandAdapter(new SqliteAdapter(), 'd1'), database),
    createDriver: () => wrapDriver(driver, options.onDestroy),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db) => new SqliteIntrospector(db),
  };
}

/**
 * kysely-d1's driver, delegated to by hand (its classes keep private state a prototype copy cannot reach):
 * its results lose the field Kysely warns about as outdated, and `onDestroy` runs after it is destroyed.
 */
function wrapDriver(make: () => Promise<Driver>, onDestroy: (() => Promise<void>) | undefined): Driver {
  let started: Driver | undefined;
  // Kysely starts a driver (init) before anything else is asked of it.
  const inner = (): Driver => {
    if (started === undefined) throw new Error('The D1 driver was used before Kysely started it');
    return started;
  };
  return {
    async init() {
      started = await make();
      await started.init();
    },
    async acquireConnection(): Promise<DatabaseConnection> {
      const conn = await inner().acquireConnection();
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
    releaseConnection: (conn) => inner().releaseConnection(conn),
    async destroy() {
      await started?.destroy();
      await onDestroy?.();
    },
  };
}
