// The database service: a façade over its parts under ./service/: the lifecycle (database-service), the
// policy that decides what to do with a status (policy), the state model and its public view (state), and
// the connector that retries the first connection (connector).
import { DatabaseServiceImpl } from './service/database-service.js';
import type { DatabaseService, DatabaseServiceOptions } from './service/types.js';

/**
 * Creates a database service: lazy initialization with migrations, for an application's `lib/database`.
 * Most services build it with one call instead (`createDatabase` of `@mig/service`); this is the hand-wired path.
 *
 * @example
 * export const database = createDatabaseService({
 *   connect: async () => { await sql`select 1`.execute(db); return db; },
 *   disconnect: (db) => db.destroy(),
 *   migrator: (db) => createMigrator({ source, store: adapter.store, lock: adapter.createLock() }),
 *   autoMigrate: true,
 * });
 * // in a handler:
 * const db = await database.ensureInitialized();
 */
export function createDatabaseService<Conn>(options: DatabaseServiceOptions<Conn>): DatabaseService<Conn> {
  return new DatabaseServiceImpl(options);
}
