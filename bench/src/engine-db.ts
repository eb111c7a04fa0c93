import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, MysqlDialect, type RawBuilder, SqliteDialect, sql } from 'kysely';
import { type BenchDatabase, trackDatabase } from './db.js';

/** The engines besides PostgreSQL that scenario 11 measures. */
export type BenchEngine = 'mariadb' | 'sqlite';
export const BENCH_ENGINES: readonly BenchEngine[] = ['mariadb', 'sqlite'];
export const ENGINE_LABELS: Record<BenchEngine, string> = { mariadb: 'MariaDB', sqlite: 'SQLite' };

/** The MariaDB (or MySQL) server to measure against, as a user allowed to create databases. */
export const MYSQL_ADMIN_URL = process.env.MIG_BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';

export interface EngineDatabase extends BenchDatabase {
  readonly engine: BenchEngine;
  /** The SQLite file, for a SQLite database. */
  readonly path?: string | undefined;
}

function mysqlUrl(name: string): string {
  const url = new URL(MYSQL_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function mysqlAdmin(statement: string): Promise<void> {
  const mysql = await import('mysql2/promise');
  const connection = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 10_000 });
  try {
    await connection.query(statement);
  } finally {
    await connection.end().catch(() => {});
  }
}

/**
 * A new, empty database: on MariaDB a database named `mig_bench_<label>_<pid>_<random>`, dropped by `drop()`;
 * on SQLite a file in a new temporary folder, which `drop()` removes with the file's WAL and lock files.
 * Both are also dropped on the way out, as the PostgreSQL databases are.
 */
export async function createEngineDatabase(engine: BenchEngine, label: string): Promise<EngineDatabase> {
  const name = `mig_bench_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${randomBytes(3).toString('hex')}`;
  let untrack = () => {};
  let database: EngineDatabase;
  if (engine === 'mariadb') {
    await mysqlAdmin(`create database \`${name}\``);
    database = {
      engine,
      name,
      url: mysqlUrl(name),
      async drop() {
        untrack();
        await mysqlAdmin(`drop database if exists \`${name}\``);
      },
    };
  } else {
    const dir = await mkdtemp(join(tmpdir(), `${name}-`));
    const path = join(dir, 'bench.db');
    database = {
      engine,
      name,
      url: `sqlite:${path}`,
      path,
      async drop() {
        untrack();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  untrack = trackDatabase(database);
  return database;
}

/**
 * A Kysely instance on `url` the way a Kysely user builds one, with Kysely's own dialects and the drivers'
 * defaults: MysqlDialect on a mysql2 pool, SqliteDialect on a better-sqlite3 database. Drivers load on use.
 */
export async function kyselyOwn(url: string, connections = 2): Promise<Kysely<any>> {
  if (url.startsWith('sqlite:')) {
    const loaded = (await import('better-sqlite3')) as unknown as { default?: typeof BetterSqlite3 };
    const Database = loaded.default ?? (loaded as unknown as typeof BetterSqlite3);
    const path = url.slice('sqlite:'.length);
    return new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(path) }) });
  }
  const { createPool } = await import('mysql2');
  return new Kysely<any>({
    dialect: new MysqlDialect({ pool: createPool({ uri: url, connectionLimit: connections }) }),
  });
}

/** The server's or library's version, for the notes. */
export async function engineVersion(engine: BenchEngine, db: Kysely<any>): Promise<string> {
  const query =
    engine === 'mariadb' ? sql<{ v: string }>`select version() as v` : sql<{ v: string }>`select sqlite_version() as v`;
  const { rows } = await query.execute(db);
  return rows[0]?.v ?? 'unknown';
}

/** What a migration run left: its records, and the audit rows the migrations wrote (the first writes none). */
export interface RecordCounts {
  readonly records: number;
  readonly distinctRecords: number;
  readonly audit: number;
  readonly distinctAudit: number;
  readonly auditPids: number;
}

/** Counts `recordTable`'s rows and the audit rows; a table that does not exist counts as empty. */
export async function countRecords(db: Kysely<any>, recordTable: string): Promise<RecordCounts> {
  const count = async <T>(query: RawBuilder<T>, empty: T): Promise<T> => {
    try {
      return (await query.execute(db)).rows[0] ?? empty;
    } catch {
      return empty;
    }
  };
  const rec = await count(
    sql<{ n: unknown; d: unknown }>`select count(*) as n, count(distinct name) as d from ${sql.table(recordTable)}`,
    { n: 0, d: 0 },
  );
  const aud = await count(
    sql<{
      n: unknown;
      d: unknown;
      p: unknown;
    }>`select count(*) as n, count(distinct migration) as d, count(distinct pid) as p from audit`,
    { n: 0, d: 0, p: 0 },
  );
  return {
    records: Number(rec.n),
    distinctRecords: Number(rec.d),
    audit: Number(aud.n),
    distinctAudit: Number(aud.d),
    auditPids: Number(aud.p),
  };
}

/** Each of `count` migrations recorded once and run once (one audit row each, the first writes none). */
export function recordedOnce(counts: RecordCounts, count: number): boolean {
  return (
    counts.records === count &&
    counts.distinctRecords === count &&
    counts.audit === count - 1 &&
    counts.distinctAudit === count - 1
  );
}

export function describeCounts(counts: RecordCounts): string {
  return `${counts.records} records (${counts.distinctRecords} distinct), ${counts.audit} audit rows (${counts.distinctAudit} distinct, written by ${counts.auditPids} process(es))`;
}
