import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { serve } from '@hono/node-server';
import type { MigConfigInput } from '@mig/config';
import { afterEach, describe, expect, it } from 'vitest';
import { PGLITE_TEMPLATE } from '../../../test/support/paths.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createApp } from '../src/app.js';
import { type AppDatabase, createDatabase } from '../src/lib/database.js';
import { createLogger } from '../src/lib/logger.js';
import { APP_DIR } from '../src/lib/paths.js';

interface Running {
  readonly base: string;
  readonly database: AppDatabase;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh empty database on the engine: a PostgreSQL database, or a PGlite data directory. */
async function freshDatabase(
  engine: 'postgres' | 'pglite',
): Promise<{ url?: string; pgliteDir?: string; pg?: TestDatabase }> {
  if (engine === 'postgres') {
    const pg = await createTestDatabase('api');
    cleanups.push(() => pg.drop());
    return { url: pg.url, pg };
  }
  const dir = await mkdtemp(join(tmpdir(), 'mig-api-'));
  await cp(PGLITE_TEMPLATE, dir, { recursive: true });
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { pgliteDir: dir };
}

/** The API, as the server composes it, on a real HTTP port. */
async function startApi(
  where: { url?: string; pgliteDir?: string },
  overrides: MigConfigInput = {},
  env: Record<string, string> = {},
): Promise<Running> {
  const logger = createLogger({ level: 'error', write: () => {} });
  const database = createDatabase({
    env: { NODE_ENV: 'test', ...env, ...(where.url ? { DATABASE_URL: where.url } : {}) },
    overrides,
    logger,
    pgliteDir: where.pgliteDir,
  });
  await database.configuration();
  const app = createApp(database, { logger });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  let stopped: Promise<void> | undefined;
  const running = {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    database,
    stop() {
      stopped ??= (async () => {
        await new Promise((resolve) => server.close(resolve));
        await database.close();
      })();
      return stopped;
    },
  };
  cleanups.push(() => running.stop());
  return running;
}

/** The columns of todos and the migrations mig recorded, read directly (PGlite: once the API has stopped). */
async function inspect(where: { pg?: TestDatabase; pgliteDir?: string }) {
  const columns = `select column_name as name from information_schema.columns
    where table_schema = 'public' and table_name = 'todos' order by ordinal_position`;
  const records = 'select name from mig_migrations order by name';
  const names = (rows: readonly unknown[]) => rows.map((r) => (r as { name: string }).name);
  if (where.pg) {
    return {
      todoColumns: names((await where.pg.query(columns)).rows),
      recorded: names((await where.pg.query(records)).rows),
    };
  }
  const pglite = new PGlite(where.pgliteDir);
  try {
    return {
      todoColumns: names((await pglite.query(columns)).rows),
      recorded: names((await pglite.query(records)).rows),
    };
  } finally {
    await pglite.close();
  }
}

async function call(api: Running, method: string, path: string, body?: string) {
  const response = await fetch(api.base + path, { method, body, headers: { 'content-type': 'application/json' } });
  return { status: response.status, json: (await response.json()) as any };
}

describe.each(['postgres', 'pglite'] as const)('the example API on %s', (engine) => {
  it('migrates lazily on the first request, then serves', async () => {
    const api = await startApi(await freshDatabase(engine));
    expect(api.database.state().phase).toBe('idle');
    const list = await call(api, 'GET', '/todos');
    expect(list).toEqual({ status: 200, json: [] });
    expect(api.database.state()).toMatchObject({
      phase: 'ready',
      migrations: 'applied',
      appliedHere: ['20260101000000_create_todos', '20260102000000_add_todo_done', '20260103000000_index_open_todos'],
    });
    const created = await call(api, 'POST', '/todos', '{"title":"  write the tests  "}');
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ title: 'write the tests', done: false });
    const done = await call(api, 'PATCH', `/todos/${created.json.id}`, '{"done":true}');
    expect(done).toMatchObject({ status: 200, json: { done: true } });
    expect((await call(api, 'GET', '/health')).json).toEqual({ status: 'ok', migrations: 'applied', pending: 0 });
  });

  it('GET /migrations reports the state, the cache statistics and the configuration with its sources', async () => {
    const api = await startApi(await freshDatabase(engine), {}, { MIGRATION_CACHE_TTL: '90s' });
    const before = await call(api, 'GET', '/migrations');
    expect(before.json).toMatchObject({ state: { phase: 'idle' }, cache: { hits: 0, misses: 0, loads: 0 } });
    await call(api, 'GET', '/todos');
    for (let i = 0; i < 20; i++) await call(api, 'GET', '/todos');
    const report = (await call(api, 'GET', '/migrations')).json;
    expect(report.engine).toBe(engine);
    expect(report.state).toMatchObject({ phase: 'ready', migrations: 'applied', lastCheck: { source: 'database' } });
    // One status check, at the first request; ready calls are not cache lookups.
    expect(report.cache).toMatchObject({ hits: 0, misses: 1, loads: 1, expirations: 0, size: 1, hitRatio: 0 });
    expect(report.config.cacheTtlMs).toEqual({ value: 90_000, source: 'env' });
    expect(report.config.autoMigrate).toEqual({ value: true, source: 'default' });
    expect(report.config.lockStrategy).toEqual({ value: 'advisory', source: 'default' });
    expect(report.nodeEnv).toBe('test');
  });

  it('answers bad input with a 400 that says what was wrong, never a 500', async () => {
    const api = await startApi(await freshDatabase(engine));
    const cases: Array<[string, string, string | undefined, RegExp]> = [
      ['POST', '/todos', '{"title": ', /not valid JSON/],
      ['POST', '/todos', '[1,2]', /must be a JSON object/],
      ['POST', '/todos', '{"title":""}', /"title" must be a non-empty string/],
      ['POST', '/todos', `{"title":"${'x'.repeat(201)}"}`, /at most 200 characters/],
      ['POST', '/todos', '{"title":42}', /"title" must be a non-empty string/],
      ['PATCH', '/todos/abc', '{"done":true}', /id must be a positive integer/],
      ['PATCH', '/todos/1', '{"done":"yes"}', /"done" must be true or false/],
      ['PATCH', '/todos/1', '{}', /Nothing to change/],
    ];
    for (const [method, path, body, message] of cases) {
      const response = await call(api, method, path, body);
      expect(response.status, `${method} ${path} ${body}`).toBe(400);
      expect(response.json.message).toMatch(message);
    }
    expect((await call(api, 'PATCH', '/todos/999', '{"done":true}')).status).toBe(404);
  });

  it('answers 503 with the reason while migrations are pending under the refusing policy', async () => {
    const api = await startApi(await freshDatabase(engine), { autoMigrate: false, onPending: 'refuse' });
    const health = await call(api, 'GET', '/health');
    expect(health.status).toBe(503);
    expect(health.json.status).toBe('unavailable');
    expect(health.json.reason).toContain('3 migration(s) pending and automatic migration is off');
    expect(health.json.advice).toMatch(/`mig up`.*AUTO_MIGRATE=true/);
    expect(health.json.pending).toHaveLength(3);
    const todos = await call(api, 'GET', '/todos');
    expect(todos.status).toBe(503);
    expect(todos.json).toMatchObject({ error: 'unavailable', code: 'PENDING', advice: health.json.advice });
  });

  it('answers 503 with the reason when a migration failed, and applies nothing of it', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'mig-api-migrations-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await cp(join(APP_DIR, 'migrations'), folder, { recursive: true });
    await writeFile(
      join(folder, '20260104000000_broken.sql'),
      'alter table todos add column owner text;\nselect 1 / 0;\n',
    );
    const where = await freshDatabase(engine);
    const api = await startApi(where, { migrationsDir: folder });
    const health = await call(api, 'GET', '/health');
    expect(health.status).toBe(503);
    expect(health.json.reason).toContain('Failed to apply migration "20260104000000_broken": division by zero');
    expect(health.json.migrations).toBe('failed');
    expect(api.database.state().appliedHere).toHaveLength(3);
    // Its first statement, which succeeded, was rolled back with it, and it was not recorded.
    await api.stop();
    expect(await inspect(where)).toEqual({
      todoColumns: ['id', 'title', 'created_at', 'done'],
      recorded: ['20260101000000_create_todos', '20260102000000_add_todo_done', '20260103000000_index_open_todos'],
    });
  });

  it('keeps serving, degraded, under the degrade policy when a migration fails', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'mig-api-migrations-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await cp(join(APP_DIR, 'migrations'), folder, { recursive: true });
    await writeFile(join(folder, '20260104000000_broken.sql'), 'select 1 / 0;\n');
    const api = await startApi(await freshDatabase(engine), { migrationsDir: folder, onFailure: 'degrade' });
    expect((await call(api, 'GET', '/todos')).status).toBe(200); // the three good migrations serve the resource
    const health = await call(api, 'GET', '/health');
    expect(health.status).toBe(503);
    expect(health.json.status).toBe('degraded');
    expect(health.json.reason).toMatch(/^serving degraded: Failed to apply migration "20260104000000_broken"/);
  });
});
