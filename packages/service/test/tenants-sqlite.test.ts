import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MigErrorCode } from '@mig/core';
import { openDatabase } from '@mig/kysely-adapter';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lastJsonLine, startNode } from '../../../test/support/processes.js';
import { createDatabase, type MigDatabase } from '../src/index.js';

// A file per tenant on SQLite, beside the configured file: each tenant's first request creates and migrates
// its own file, and the Kysely instance it gets works on that file.

const INSTANCE = fileURLToPath(new URL('./fixtures/tenant-instance.mjs', import.meta.url));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Runs one statement on a SQLite file, through a connection of its own. */
async function query<R>(file: string, text: string): Promise<R[]> {
  const { db } = await openDatabase<unknown>(`sqlite:${file}`);
  try {
    return (await sql.raw<R>(text).execute(db)).rows;
  } finally {
    await db.destroy();
  }
}

async function tablesOf(file: string): Promise<string[]> {
  const rows = await query<{ name: string }>(file, `select name from sqlite_master where type = 'table' order by 1`);
  return rows.map((r) => r.name);
}

describe('createDatabase({ tenants }) on SQLite files', () => {
  let root: string;
  let dir: string;
  let data: string;
  let opened: MigDatabase<any>[] = [];

  const open = (onFailure: 'throw' | 'degrade' = 'throw') => {
    const db = createDatabase<any>({
      cwd: root,
      env: {},
      overrides: { databaseUrl: `sqlite:${join(data, 'app.db')}`, migrationsDir: dir, autoMigrate: true, onFailure },
      logger: silent,
      handleSignals: false,
      tenants: { schema: (id) => `tenant_${id}` },
    });
    opened.push(db);
    return db;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mig-tenants-sqlite-'));
    dir = join(root, 'migrations');
    data = join(root, 'data');
    await mkdir(dir);
    await mkdir(data);
    await writeFile(join(dir, '001_todos.sql'), 'create table todos (id integer primary key, title text not null);\n');
    await writeFile(join(dir, '002_done.sql'), 'alter table todos add column done integer not null default 0;\n');
  });
  afterEach(async () => {
    await Promise.all(opened.map((d) => d.close()));
    opened = [];
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("creates and migrates each tenant's own file on its first request, and works on it", async () => {
    const db = open();
    const acme = await db.ensureInitialized({ tenant: 'acme' });
    await acme.insertInto('todos').values({ title: 'for acme' }).execute();
    const eu = await db.ensureInitialized({ tenant: 'Globex-EU' });
    expect(await eu.selectFrom('todos').selectAll().execute()).toEqual([]);
    expect(await acme.selectFrom('todos').select('title').execute()).toEqual([{ title: 'for acme' }]);
    expect(await tablesOf(join(data, 'tenant_acme.db'))).toEqual(
      expect.arrayContaining(['mig_migrations', 'mig_migrations_head', 'todos']),
    );
    expect(await tablesOf(join(data, 'tenant_Globex-EU.db'))).toContain('todos');
    // The configured file is no tenant's: never opened for one.
    expect(existsSync(join(data, 'app.db'))).toBe(false);
    expect(db.state('acme')).toMatchObject({ phase: 'ready', tenant: 'acme' });
    await expect(db.ensureInitialized({ tenant: '../escape' })).rejects.toMatchObject({
      code: MigErrorCode.InvalidOption,
    });
    expect((await readdir(root)).sort()).toEqual(['data', 'migrations']);
  });

  it('a failing tenant degrades alone; the others are ready', async () => {
    await query(join(data, 'tenant_broken.db'), 'create table todos (x int)');
    const db = open('degrade');
    await db.ensureInitialized({ tenant: 'broken' });
    await db.ensureInitialized({ tenant: 'healthy' });
    expect(db.state('broken').phase).toBe('degraded');
    expect(db.state('healthy').phase).toBe('ready');
  });

  it("applies each migration exactly once when several processes make a tenant's first request at once", async () => {
    const url = `sqlite:${join(data, 'app.db')}`;
    const instances = Array.from({ length: 3 }, () =>
      startNode(INSTANCE, ['--url', url, '--dir', dir, '--tenant', 'race'], { cwd: root }),
    );
    await Promise.all(instances.map((i) => i.waitFor(/armed/)));
    for (const i of instances) i.child.kill('SIGUSR2');
    const outcomes = (await Promise.all(instances.map((i) => i.done))).map((r) =>
      lastJsonLine<{ error: unknown; applied: string[] }>(r),
    );
    expect(outcomes.map((o) => o.error)).toEqual([null, null, null]);
    expect(outcomes.flatMap((o) => o.applied).sort()).toEqual(['001_todos', '002_done']);
    expect(await query(join(data, 'tenant_race.db'), 'select count(*) as n from mig_migrations')).toEqual([{ n: 2 }]);
  });
});
