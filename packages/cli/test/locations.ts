import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import { PGLITE_TEMPLATE } from '../../../test/support/paths.js';
import { createTestDatabase } from '../../../test/support/postgres.js';
import { isUserTable, openLocalD1 } from '../../kysely-adapter/test/support/d1.js';
import { startHranaServer } from '../../kysely-adapter/test/support/hrana-server.js';
import { neonHttpEndpoint, neonHttpEnv, neonHttpUrl } from '../../kysely-adapter/test/support/neon-http-endpoint.js';
import { neonProxy, neonUrl } from '../../kysely-adapter/test/support/neon-proxy.js';

/** The test MariaDB/MySQL server (root, no password); MIG_TEST_MYSQL_URL to use another. */
const MYSQL_ADMIN = { uri: process.env.MIG_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/' };
const mysqlUrl = (database: string) => Object.assign(new URL(MYSQL_ADMIN.uri), { pathname: `/${database}` }).toString();

/** A fresh, empty database on one engine, for the `mig` command; read from outside mig. */
export interface Location {
  readonly url: string;
  /** The names of its tables, sorted. */
  tables(): Promise<string[]>;
  /** Runs one query from outside mig and returns its rows. */
  rows<R = Record<string, unknown>>(text: string): Promise<R[]>;
  drop(): Promise<void>;
  /**
   * Where the command runs, when it needs a project around it: a local D1 is opened through the project's
   * miniflare (a Worker's project has it, or wrangler). Default: the workspace.
   */
  readonly cwd?: string | undefined;
  /** What the `mig` process needs in its environment to reach it, beside the URL. */
  readonly env?: Record<string, string> | undefined;
}

export type EngineName =
  | 'postgres'
  | 'pglite'
  | 'sqlite'
  | 'libsql'
  | 'libsql-http'
  | 'mariadb'
  | 'neon'
  | 'neon-http'
  | 'd1';

/** How to make a fresh database of each engine the `mig` command reads. */
export const LOCATIONS: Readonly<Record<EngineName, () => Promise<Location>>> = {
  async postgres() {
    const database = await createTestDatabase('cli');
    const rows = async <R>(text: string) => (await database.query(text)).rows as R[];
    return {
      url: database.url,
      rows,
      async tables() {
        const found = await rows<{ name: string }>(
          "select table_name as name from information_schema.tables where table_schema = 'public' order by 1",
        );
        return found.map((r) => r.name);
      },
      drop: () => database.drop(),
    };
  },
  /** The local PostgreSQL through Neon's serverless driver: a WebSocket-to-TCP proxy of the test process. */
  async neon() {
    const [postgres, proxy] = await Promise.all([LOCATIONS.postgres(), neonProxy()]);
    return { ...postgres, url: neonUrl(postgres.url, proxy) };
  },
  /**
   * The local PostgreSQL through Neon's HTTP mode: a local endpoint of the test process that speaks Neon's
   * SQL-over-HTTP protocol, which the `mig` process's driver reaches through a preloaded module.
   */
  async 'neon-http'() {
    const [postgres, endpoint] = await Promise.all([LOCATIONS.postgres(), neonHttpEndpoint()]);
    return { ...postgres, url: neonHttpUrl(postgres.url), env: neonHttpEnv(endpoint) };
  },
  async pglite() {
    const dir = await mkdtemp(join(tmpdir(), 'mig-cli-pglite-'));
    await cp(PGLITE_TEMPLATE, dir, { recursive: true });
    const rows = async <R>(text: string) => {
      const pglite = new PGlite(dir);
      try {
        return (await pglite.query<R>(text)).rows;
      } finally {
        await pglite.close();
      }
    };
    return {
      url: `pglite:${dir}`,
      rows,
      async tables() {
        const found = await rows<{ name: string }>(
          "select table_name as name from information_schema.tables where table_schema = 'public' order by 1",
        );
        return found.map((r) => r.name);
      },
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  },
  sqlite: () => sqliteFile('sqlite'),
  // A local libSQL file is a SQLite file: read from outside mig with better-sqlite3.
  libsql: () => sqliteFile('libsql+file'),
  // A libSQL server over HTTP: the adapter's Hrana test server on a SQLite file, read from outside mig.
  async 'libsql-http'() {
    const location = await sqliteFile('libsql+file');
    const server = await startHranaServer({ file: location.url.slice('libsql+file:'.length) });
    return {
      ...location,
      url: server.url,
      async drop() {
        await server.close();
        await location.drop();
      },
    };
  },
  async mariadb() {
    const name = `mig_cli_${randomBytes(5).toString('hex')}`;
    const admin = await createConnection(MYSQL_ADMIN);
    await admin.query(`create database ${name}`);
    await admin.end();
    const rows = async <R>(text: string) => {
      const c = await createConnection(mysqlUrl(name));
      try {
        return (await c.query(text))[0] as R[];
      } finally {
        await c.end();
      }
    };
    return {
      url: mysqlUrl(name).replace(/^mysql:/, 'mariadb:'),
      rows,
      async tables() {
        const found = await rows<{ name: string }>(
          `select table_name as name from information_schema.tables where table_schema = '${name}' order by 1`,
        );
        return found.map((r) => r.name);
      },
      async drop() {
        const c = await createConnection(MYSQL_ADMIN);
        await c.query(`drop database if exists ${name}`);
        await c.end();
      },
    };
  },
  async d1() {
    const dir = await mkdtemp(join(tmpdir(), 'mig-cli-d1-'));
    const rows = async <R>(text: string) => {
      const { mf, binding } = await openLocalD1(dir);
      try {
        return ((await binding.prepare(text).all()).results ?? []) as R[];
      } finally {
        await mf.dispose();
      }
    };
    return {
      url: `d1:${dir}?binding=DB`,
      rows,
      async tables() {
        const found = await rows<{ name: string }>("select name from sqlite_master where type = 'table' order by 1");
        return found.map((r) => r.name).filter(isUserTable);
      },
      drop: () => rm(dir, { recursive: true, force: true }),
      // The adapter's package has miniflare, as a Worker's project would.
      cwd: fileURLToPath(new URL('../../kysely-adapter', import.meta.url)),
    };
  },
};

/** A SQLite file in a folder of its own, named in a URL by `scheme` (`sqlite`, `libsql+file`). */
async function sqliteFile(scheme: string): Promise<Location> {
  const dir = await mkdtemp(join(tmpdir(), 'mig-cli-sqlite-'));
  const file = join(dir, 'app.db');
  const rows = async <R>(text: string) => {
    if (!(await readdir(dir)).includes('app.db')) return [];
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(text).all() as R[];
    } finally {
      db.close();
    }
  };
  return {
    url: `${scheme}:${file}`,
    rows,
    async tables() {
      const found = await rows<{ name: string }>("select name from sqlite_master where type = 'table' order by 1");
      return found.map((r) => r.name).filter((n) => !n.startsWith('sqlite_'));
    },
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}
