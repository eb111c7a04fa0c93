import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { neonProxy, neonUrl } from '../../../packages/kysely-adapter/test/support/neon-proxy.js';
import { createTestDatabase } from '../../../test/support/postgres.js';
import { createApp } from '../src/app.js';
import { createDatabase } from '../src/lib/database.js';
import { createLogger } from '../src/lib/logger.js';

// The app on the engines beside PostgreSQL and PGlite (api.test.ts covers those in depth): DATABASE_URL is
// all that changes; the app takes the migrations written in that engine's SQL. Neon is the local PostgreSQL
// through Neon's serverless driver over a WebSocket proxy of the test process, with PostgreSQL's migrations;
// libSQL a local file through libSQL's client, with SQLite's.

/** The test MariaDB/MySQL server (root, no password); MIG_TEST_MYSQL_URL to use another. */
const MYSQL_ADMIN = { uri: process.env.MIG_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/' };
const mysqlUrl = (database: string) => Object.assign(new URL(MYSQL_ADMIN.uri), { pathname: `/${database}` }).toString();
const APPLIED = ['20260101000000_create_todos', '20260102000000_add_todo_done', '20260103000000_index_open_todos'];

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh database, and mig's records in it read from outside the app. */
const FRESH: Record<string, () => Promise<{ url: string; recorded(): Promise<string[]> }>> = {
  async neon() {
    const [database, proxy] = await Promise.all([createTestDatabase('app_neon'), neonProxy()]);
    cleanups.push(() => database.drop());
    return {
      url: neonUrl(database.url, proxy),
      async recorded() {
        return (await database.query('select name from mig_migrations order by id')).rows.map((r) => r.name);
      },
    };
  },
  async mariadb() {
    const name = `mig_app_${randomBytes(5).toString('hex')}`;
    const admin = await createConnection(MYSQL_ADMIN);
    await admin.query(`create database ${name}`);
    await admin.end();
    cleanups.push(async () => {
      const c = await createConnection(MYSQL_ADMIN);
      await c.query(`drop database if exists ${name}`);
      await c.end();
    });
    return {
      url: mysqlUrl(name),
      async recorded() {
        const c = await createConnection({ uri: mysqlUrl(name) });
        const [rows] = await c.query('select name from mig_migrations order by id');
        await c.end();
        return (rows as { name: string }[]).map((r) => r.name);
      },
    };
  },
  sqlite: () => freshFile('sqlite'),
  // A local libSQL file, through libSQL's client, with SQLite's migrations; read from outside as SQLite.
  libsql: () => freshFile('libsql+file'),
};

async function freshFile(scheme: 'sqlite' | 'libsql+file') {
  const dir = await mkdtemp(join(tmpdir(), 'mig-app-sqlite-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.db');
  return {
    url: `${scheme}:${file}`,
    async recorded() {
      const db = new Database(file, { readonly: true });
      const rows = db.prepare('select name from mig_migrations order by id').all() as { name: string }[];
      db.close();
      return rows.map((r) => r.name);
    },
  };
}

async function call(base: string, method: string, path: string, body?: string) {
  const response = await fetch(base + path, { method, body, headers: { 'content-type': 'application/json' } });
  return { status: response.status, json: (await response.json()) as any };
}

describe.each(Object.keys(FRESH))('the example API on %s', (engine) => {
  it('migrates lazily on the first request with its engine migrations, then serves', { timeout: 60_000 }, async () => {
    const fresh = await FRESH[engine]!();
    const logger = createLogger({ level: 'error', write: () => {} });
    const database = createDatabase({ env: { NODE_ENV: 'test', DATABASE_URL: fresh.url }, logger });
    const app = createApp(database, { logger });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    cleanups.push(async () => {
      await new Promise((resolve) => server.close(resolve));
      await database.close();
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    expect(await call(base, 'GET', '/todos')).toEqual({ status: 200, json: [] });
    expect(database.state()).toMatchObject({ phase: 'ready', migrations: 'applied', appliedHere: APPLIED });
    const created = await call(base, 'POST', '/todos', '{"title":"  ship it  "}');
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: expect.any(String), title: 'ship it', done: false });
    expect(new Date(created.json.created_at).getTime()).not.toBeNaN();
    const done = await call(base, 'PATCH', `/todos/${created.json.id}`, '{"done":true}');
    expect(done).toMatchObject({ status: 200, json: { id: created.json.id, done: true } });
    expect((await call(base, 'PATCH', '/todos/999', '{"done":true}')).status).toBe(404);
    expect((await call(base, 'GET', '/todos')).json).toEqual([done.json]);
    expect((await call(base, 'GET', '/migrations')).json).toMatchObject({
      engine: { mariadb: 'mysql', sqlite: 'sqlite', libsql: 'libsql', neon: 'neon' }[engine],
    });
    expect(await fresh.recorded()).toEqual(APPLIED);
  });
});
