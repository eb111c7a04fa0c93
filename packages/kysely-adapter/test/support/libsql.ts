import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { createLibsqlDialect } from '../../src/engines/libsql/index.js';
import type { MigrationDb } from '../../src/index.js';
import { type HranaServer, startHranaServer } from './hrana-server.js';

/** The tables of a libSQL database, sorted, without SQLite's own (reads only: creates no file). */
async function userTables(db: MigrationDb): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\'
    order by name`.execute(db);
  return rows.map((r) => r.name);
}

/** A fresh local libSQL file in a folder of its own, for one test; the folder is removed by `close`. */
export interface TestLibsql {
  /** The database file (not created until something writes to it). */
  readonly path: string;
  readonly dir: string;
  /** mig's URL of the file: `libsql+file:PATH`. */
  readonly url: string;
  /** A Kysely on the file, closed by `close`. */
  readonly db: MigrationDb;
  /** Another Kysely on the same file (a client of its own, as another instance would have), closed by `close`. */
  open(): MigrationDb;
  exists(): boolean;
  /** Names of the tables in the file, sorted, without SQLite's own (reads only: creates no file). */
  tables(): Promise<string[]>;
  close(): Promise<void>;
}

export async function createTestLibsql(prefix = 'mig-libsql-'): Promise<TestLibsql> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const path = join(dir, 'data', 'app.db');
  const opened: MigrationDb[] = [];
  const open = () => {
    const db = new Kysely<any>({ dialect: createLibsqlDialect({ url: `file:${path}` }) });
    opened.push(db);
    return db;
  };
  const db = open();
  return {
    path,
    dir,
    url: `libsql+file:${path}`,
    db,
    open,
    exists: () => existsSync(path),
    tables: () => userTables(db),
    async close() {
      await Promise.all(opened.map((d) => d.destroy().catch(() => {})));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A libSQL server for one test: the Hrana test server on a file of its own, reached over HTTP. */
export interface TestLibsqlServer {
  readonly server: HranaServer;
  /** mig's URL of the server: `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** A Kysely on the server, closed by `close`. */
  readonly db: MigrationDb;
  /** Another Kysely on the server (a client of its own), closed by `close`. */
  open(): MigrationDb;
  tables(): Promise<string[]>;
  close(): Promise<void>;
}

export async function createTestLibsqlServer(options: { authToken?: string } = {}): Promise<TestLibsqlServer> {
  const dir = await mkdtemp(join(tmpdir(), 'mig-libsql-server-'));
  const server = await startHranaServer({ file: join(dir, 'server.db'), authToken: options.authToken });
  const opened: MigrationDb[] = [];
  const open = () => {
    const db = new Kysely<any>({ dialect: createLibsqlDialect({ url: server.url, authToken: options.authToken }) });
    opened.push(db);
    return db;
  };
  const db = open();
  return {
    server,
    url: server.url,
    db,
    open,
    tables: () => userTables(db),
    async close() {
      await Promise.all(opened.map((d) => d.destroy().catch(() => {})));
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
