import type { NeonQueryFunction } from '@neondatabase/serverless';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import { brandAdapter } from '../../brand.js';
import { missingDriver } from '../../locations.js';
import { attachRunner, type HttpResult, type NeonHttpRunner } from './runner.js';
import { readNeonHttpUrl } from './url.js';

export interface NeonHttpDialectOptions {
  /** A PostgreSQL connection string (`postgres://…`), as Neon's console shows it, or a `neon+https://…` URL. */
  readonly url: string;
  /** A JWT for Neon's RLS authorization (Neon's `authToken`): a string, or a function that returns one. */
  readonly authToken?: string | (() => string | Promise<string>) | undefined;
  /** Merged into each request's `fetch` options (Neon's `fetchOptions`), e.g. `{ signal }` or `{ priority: 'high' }`. */
  readonly fetchOptions?: Record<string, unknown> | undefined;
}

/**
 * A Kysely dialect on Neon's serverless driver in HTTP mode (`neon()`): each query is one HTTPS request, with no
 * session, so nothing carries from one query to the next (no interactive transaction, no session setting, no
 * advisory lock). Kysely's `db.transaction()` is refused; mig sends each migration with its checks and its
 * record as one `transaction([...])`, which Neon runs as one database transaction. The endpoint is Neon's
 * (`neonConfig.fetchEndpoint`, which this dialect reads and never sets).
 *
 * @example
 * const db = new Kysely<DB>({ dialect: createNeonHttpDialect({ url: process.env.DATABASE_URL! }) });
 */
export function createNeonHttpDialect(options: NeonHttpDialectOptions): Dialect {
  const connectionString = /^postgres(ql)?:/i.test(options.url) ? options.url : readNeonHttpUrl(options.url);
  // The driver on the first query, never at import: a bundle without it builds (see bundler-imports.test.ts).
  let made: Promise<NeonQueryFunction<false, true>> | undefined;
  const load = async () => {
    const { neon } = await import('@neondatabase/serverless').catch(missingDriver('@neondatabase/serverless'));
    return neon(connectionString, {
      fullResults: true,
      authToken: options.authToken,
      fetchOptions: options.fetchOptions,
    });
  };
  const query = () => {
    made ??= load();
    return made;
  };
  const runner: NeonHttpRunner = {
    async one(text, parameters) {
      const sql = await query();
      return toResult(await sql.query(text, [...parameters]));
    },
    async transaction(queries) {
      if (queries.length === 0) return [];
      const sql = await query();
      const results = await sql.transaction(queries.map((q) => sql.query(q.sql, [...q.parameters])));
      return results.map(toResult);
    },
  };
  return {
    createAdapter: () => attachRunner(brandAdapter(new PostgresAdapter(), 'neon-http'), runner),
    createDriver: () => new NeonHttpDriver(runner),
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db) => new PostgresIntrospector(db),
  };
}

/** Neon's full result (rows, command, rowCount) as Kysely's: affected rows counted as pg's driver counts them. */
function toResult(result: unknown): HttpResult {
  const { rows, command, rowCount } = result as {
    rows: Record<string, unknown>[];
    command?: string;
    rowCount?: number;
  };
  const writes = command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE';
  return writes && typeof rowCount === 'number' ? { rows, numAffectedRows: BigInt(rowCount) } : { rows };
}

class NeonHttpDriver implements Driver {
  readonly #connection: DatabaseConnection;

  constructor(runner: NeonHttpRunner) {
    this.#connection = {
      executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> =>
        (await runner.one(query.sql, query.parameters)) as QueryResult<R>,
      // biome-ignore lint/correctness/useYield: it refuses before it could yield.
      async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
        throw new Error(
          "Neon's HTTP mode cannot stream rows: each query is one request that answers with all its rows.",
        );
      },
    };
  }

  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }
  async beginTransaction(): Promise<void> {
    throw new Error(
      "Neon's HTTP mode has no interactive transactions (each query is its own HTTP request, with no session): " +
        "send the statements that must commit together in one sql.transaction([...]) of Neon's driver, or use " +
        "Neon's WebSocket mode (Pool, a neon:// URL in mig) for db.transaction().",
    );
  }
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}
