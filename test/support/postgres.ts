import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';

/** The test PostgreSQL server (trust auth). Override with MIG_TEST_PG_URL. */
export const PG_ADMIN_URL = process.env.MIG_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A Kysely on this database; destroyed by `drop()`. */
  readonly db: Kysely<any>;
  /** A new pg pool on this database (the caller ends it). */
  pool(max?: number): pg.Pool;
  /** Runs one query as the admin user on this database. */
  query<R extends pg.QueryResultRow = any>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

export function databaseUrl(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Connection errors outside a query (a backend ended by a test, a pool ended mid-query) are expected in
 * these tests; without listeners pg would raise them as uncaught exceptions.
 */
function quiet(pool: pg.Pool): pg.Pool {
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Creates a fresh, empty database for one test file (or one test); drop it in afterAll. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `mig_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database "${name}"`));
  const url = databaseUrl(name);
  const pools: pg.Pool[] = [];
  const makePool = (max = 5) => {
    const pool = quiet(new pg.Pool({ connectionString: url, max }));
    pools.push(pool);
    return pool;
  };
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: makePool() }) });
  const queryPool = makePool(2);
  return {
    name,
    url,
    db,
    pool: (max) => quiet(new pg.Pool({ connectionString: url, max: max ?? 5 })),
    query: (text, values) => queryPool.query(text, values as unknown[]),
    async drop() {
      await db.destroy().catch(() => {});
      await Promise.all(pools.slice(1).map((p) => p.end().catch(() => {})));
      await admin((c) => c.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

/** Counts statements a pg pool sends, by wrapping `query` on each client it hands out. */
export function countQueries(pool: pg.Pool): {
  readonly count: number;
  readonly texts: string[];
  reset(): void;
} {
  const state = { count: 0, texts: [] as string[] };
  pool.on('connect', (client) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      state.count++;
      const first = args[0];
      state.texts.push(typeof first === 'string' ? first : String((first as { text?: string })?.text ?? ''));
      return original(...args);
    };
  });
  return {
    get count() {
      return state.count;
    },
    texts: state.texts,
    reset() {
      state.count = 0;
      state.texts.length = 0;
    },
  };
}
