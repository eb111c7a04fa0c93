import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/net.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { runNode, startNode } from '../../../test/support/processes.js';
import { APP_DIR } from '../src/lib/paths.js';

// The bundled build (`scripts/bundle.mjs`): one file that holds the server, its libraries, pg and its
// migrations. Copied alone into an empty folder, it runs there against a fresh PostgreSQL database, brings the
// schema up and answers. The committed migrations bundle must also match the migrations folder.

const CLI = join(APP_DIR, '..', '..', 'packages', 'cli', 'dist', 'bin.js');
const cleanups: (() => Promise<void>)[] = [];
let built: string;

beforeAll(async () => {
  const out = await mkdtemp(join(tmpdir(), 'mig-api-bundle-'));
  cleanups.push(() => rm(out, { recursive: true, force: true }));
  // First, while the committed bundle is as it was: does it still hold the folder's migrations?
  const verified = await runNode(
    CLI,
    ['verify', '--bundle', 'src/migrations.bundle.ts', '--migrations', 'migrations'],
    {
      cwd: APP_DIR,
      env: { NO_COLOR: '1', DATABASE_URL: '', MIGRATIONS_DIR: '' },
    },
  );
  if (verified.code !== 0) throw new Error(`src/migrations.bundle.ts is stale:\n${verified.stdout}${verified.stderr}`);
  const bundled = await runNode(join(APP_DIR, 'scripts', 'bundle.mjs'), ['--outdir', out], {
    cwd: APP_DIR,
    timeoutMs: 240_000,
  });
  if (bundled.code !== 0) throw new Error(`the bundled build failed:\n${bundled.stdout}${bundled.stderr}`);
  built = join(out, 'server.mjs');
}, 300_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the bundled build', () => {
  let pg: TestDatabase;

  it('runs alone in an empty folder on a fresh PostgreSQL database: the schema comes up and the API answers', async () => {
    pg = await createTestDatabase('api_bundled');
    cleanups.push(() => pg.drop());
    const folder = await mkdtemp(join(tmpdir(), 'mig-api-bundled-run-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await copyFile(built, join(folder, 'server.mjs'));
    expect(await readdir(folder)).toEqual(['server.mjs']);

    const port = await freePort();
    const server = startNode(join(folder, 'server.mjs'), [], {
      cwd: folder,
      env: { DATABASE_URL: pg.url, PORT: String(port), NODE_ENV: '', AUTO_MIGRATE: '', MIGRATIONS_DIR: '' },
    });
    cleanups.push(async () => {
      server.child.kill('SIGTERM');
      await server.done;
    });
    await server.waitFor(/listening on/, 60_000);
    const base = `http://127.0.0.1:${port}`;

    const health = await fetch(`${base}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', pending: 0 });
    expect(health.status).toBe(200);
    const created = await fetch(`${base}/todos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'from the bundle' }),
    });
    expect(created.status).toBe(201);
    const todos = (await (await fetch(`${base}/todos`)).json()) as { title: string; done: boolean }[];
    expect(todos).toMatchObject([{ title: 'from the bundle', done: false }]);

    const records = await pg.query<{ name: string }>('select name from mig_migrations order by name');
    expect(records.rows.map((r) => r.name)).toEqual([
      '20260101000000_create_todos',
      '20260102000000_add_todo_done',
      '20260103000000_index_open_todos',
    ]);
    const columns = await pg.query<{ name: string }>(
      "select column_name as name from information_schema.columns where table_name = 'todos' order by ordinal_position",
    );
    expect(columns.rows.map((r) => r.name)).toEqual(['id', 'title', 'created_at', 'done']);

    server.child.kill('SIGTERM');
    const exit = await server.done;
    expect(exit.stderr).toBe('');
  });
});
