import { randomBytes } from 'node:crypto';
import { Kysely } from 'kysely';
import { type Connection, createConnection } from 'mysql2/promise';
import { createMysqlDialect } from '../../src/engines/mysql/index.js';

/** The test MariaDB/MySQL server (root, no password). Override with MIG_TEST_MYSQL_URL. */
export const MYSQL_ADMIN_URL = process.env.MIG_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';

export interface TestMysqlDatabase {
  readonly name: string;
  readonly url: string;
  /** A Kysely on this database (mig's own dialect); destroyed by `drop()`. */
  readonly db: Kysely<any>;
  /** Runs one statement as the admin user on this database. */
  query<R = any>(text: string, values?: unknown[]): Promise<R[]>;
  /** The names of this database's tables, sorted. */
  tables(): Promise<string[]>;
  drop(): Promise<void>;
}

export function mysqlDatabaseUrl(name: string): string {
  const url = new URL(MYSQL_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function connect(url: string): Promise<Connection> {
  try {
    return await createConnection({ uri: url, connectTimeout: 5_000 });
  } catch (error) {
    throw new Error(
      `These tests need MySQL or MariaDB at ${new URL(url).host} and could not reach it (${(error as Error).message}). ` +
        'Start it (start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql) or set MIG_TEST_MYSQL_URL.',
    );
  }
}

/** Creates a fresh, uniquely named database for one test (or file); drop it afterwards. */
export async function createTestMysqlDatabase(label = 'test'): Promise<TestMysqlDatabase> {
  const name = `mig_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = await connect(MYSQL_ADMIN_URL);
  try {
    await admin.query(`create database \`${name}\``);
  } finally {
    await admin.end();
  }
  const url = mysqlDatabaseUrl(name);
  const db = new Kysely<any>({ dialect: createMysqlDialect({ url, maxConnections: 5 }) });
  let queries: Connection | undefined;
  const query = async (text: string, values?: unknown[]) => {
    queries ??= await connect(url);
    const [rows] = await queries.query(text, values);
    return rows as any[];
  };
  return {
    name,
    url,
    db,
    query,
    async tables() {
      const rows = await query(
        'select table_name as name from information_schema.tables where table_schema = database() order by 1',
      );
      return rows.map((r: { name: string }) => r.name);
    },
    async drop() {
      await db.destroy().catch(() => {});
      await queries?.end().catch(() => {});
      const dropper = await connect(MYSQL_ADMIN_URL);
      try {
        // A statement left running by a killed instance would hold its locks, and the drop, until it ends.
        const [left] = await dropper.query('select id from information_schema.processlist where db = ?', [name]);
        for (const { id } of left as { id: number }[]) await dropper.query(`kill ${Number(id)}`).catch(() => {});
        await dropper.query(`drop database if exists \`${name}\``);
      } finally {
        await dropper.end();
      }
    },
  };
}
