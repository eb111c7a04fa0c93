import { describeThrown } from '@mig/core/adapter';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  PostgresIntrospector,
  type QueryResult,
} from 'kysely';
import type { MigrationDb } from './db.js';

const CONTROL = /^(begin|start transaction|commit|rollback|savepoint|release savepoint|rollback to savepoint)\b/i;

/**
 * The SQL a Kysely migration would send, found by running it against a Kysely that compiles every query
 * as `like` would (its engine's SQL) and executes none (each returns no rows). A migration that branches on
 * what it reads may take another path for real; its preview says what it would do on an empty result.
 */
export async function previewQueries(
  run: (db: MigrationDb) => Promise<void>,
  like: MigrationDb,
): Promise<readonly string[]> {
  const executor = like.getExecutor();
  const recorded: string[] = [];
  const connection: DatabaseConnection = {
    async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
      if (!CONTROL.test(compiled.sql.trim())) recorded.push(render(compiled));
      return { rows: [] };
    },
    async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {},
  };
  const driver: Driver = {
    async init() {},
    async acquireConnection() {
      return connection;
    },
    async beginTransaction() {},
    async commitTransaction() {},
    async rollbackTransaction() {},
    async releaseConnection() {},
    async destroy() {},
  };
  const db: MigrationDb = new Kysely({
    dialect: {
      createAdapter: () => executor.adapter,
      createDriver: () => driver,
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => ({ compileQuery: (node, queryId) => executor.compileQuery(node, queryId) }),
    },
  });
  try {
    await run(db);
  } catch (error) {
    recorded.push(`-- preview stopped: the migration threw on an empty result (${describeThrown(error)})`);
  } finally {
    await db.destroy();
  }
  return recorded;
}

/** Shows a compiled query with its parameters as placeholders only: bound values never reach a log. */
function render(compiled: CompiledQuery): string {
  const count = compiled.parameters.length;
  return count === 0 ? compiled.sql : `${compiled.sql} -- ${count} parameter(s)`;
}
