import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { Counter, countQueries } from './counting.js';

/** The PostgreSQL server to measure against (trust auth here). Override with MIG_BENCH_PG_URL. */
export const ADMIN_URL = process.env.MIG_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function serverVersion(): Promise<string> {
  return admin(async (c) => {
    const { rows } = await c.query<{ v: string }>("select current_setting('server_version') as v");
    return rows[0]?.v ?? 'unknown';
  });
}

/** The server's `shared_preload_libraries` (pg_stat_statements counts statements only when it is there). */
export async function preloadedLibraries(): Promise<string> {
  return admin(async (c) => {
    const { rows } = await c.query<{ v: string }>("select current_setting('shared_preload_libraries') as v");
    return rows[0]?.v ?? '';
  });
}

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** Databases this process created and has not dropped yet: dropped on the way out, even after a failure. */
const live = new Set<BenchDatabase>();

/**
 * A new, empty database named `mig_bench_<label>_<pid>_<random>`: every measurement that needs a clean
 * slate gets its own, and nothing depends on what an earlier run left behind.
 */
export async function createDatabase(label: string): Promise<BenchDatabase> {
  const name = `mig_bench_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await admin((c) => c.query(`create database "${name}"`));
  const database: BenchDatabase = {
    name,
    url: databaseUrl(name),
    async drop() {
      live.delete(database);
      await admin((c) => c.query(`drop database if exists "${name}" with (force)`));
    },
  };
  live.add(database);
  return database;
}

/**
 * Adds a database this module did not create (a MariaDB database, a SQLite file) to the ones dropped on the
 * way out; its `drop()` must call the returned function first.
 */
export function trackDatabase(database: BenchDatabase): () => void {
  live.add(database);
  return () => live.delete(database);
}

export async function dropAllCreated(): Promise<void> {
  await Promise.allSettled([...live].map((d) => d.drop()));
}

/**
 * What a pool's clients sent: `count` is statements (the top-level statements of every text, BEGIN and COMMIT
 * included), `roundTrips` the `client.query` calls that carried them.
 */
export interface StatementCounter {
  readonly count: number;
  readonly roundTrips: number;
}

export interface CountedPool {
  readonly pool: pg.Pool;
  readonly db: Kysely<any>;
  readonly counter: StatementCounter;
  /** Opens `n` connections now, so no measured call pays for a connection it did not ask for. */
  warm(n?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A pg pool whose clients count their statements and round trips, and a Kysely on it. The count wraps
 * `client.query` on each client as the pool connects it, so it sees exactly what goes on the wire.
 */
export function countedPool(url: string, max = 4): CountedPool {
  const pool = new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 0 });
  const state = new Counter();
  pool.on('connect', (client) => {
    countQueries(client as unknown as { query: (...args: unknown[]) => unknown }, state);
  });
  // A backend that dies between rounds must not end the whole run.
  pool.on('error', () => {});
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  return {
    pool,
    db,
    counter: {
      get count() {
        return state.statements;
      },
      get roundTrips() {
        return state.roundTrips;
      },
    },
    async warm(n = 1) {
      const clients = await Promise.all(Array.from({ length: Math.min(n, max) }, () => pool.connect()));
      for (const c of clients) c.release();
    },
    // Kysely's destroy ends the pool.
    close: () => db.destroy(),
  };
}
