import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase } from '@mig/kysely-adapter';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mig, type Workspace, workspace } from './support.js';

// `mig up|status --tenants` over SQLite files, one per tenant beside the configured file.

async function query<R>(file: string, text: string): Promise<R[]> {
  const { db } = await openDatabase<unknown>(`sqlite:${file}`);
  try {
    return (await sql.raw<R>(text).execute(db)).rows;
  } finally {
    await db.destroy();
  }
}

const tables = async (file: string) =>
  (await query<{ name: string }>(file, `select name from sqlite_master where type = 'table' order by 1`)).map(
    (r) => r.name,
  );

describe('mig --tenants on SQLite files', () => {
  let ws: Workspace;
  let data: string;
  const run = (args: string[]) => mig(args, { cwd: ws.dir, env: { DATABASE_URL: `sqlite:${join(data, 'app.db')}` } });

  beforeAll(async () => {
    ws = await workspace({ '001_todos.sql': 'create table todos (id integer primary key, title text not null);\n' });
    data = join(ws.dir, 'data');
    await mkdir(data);
    for (const name of ['tenant_a', 'tenant_c', 'other'])
      await query(join(data, `${name}.db`), 'create table keep (x int)');
    await query(join(data, 'tenant_b.db'), 'create table todos (x int)');
  });
  afterAll(async () => {
    await ws?.dispose();
  });

  it('migrates every matching file, names the failing one, leaves the others alone, and sums up the status', async () => {
    const up = await run(['up', '--tenants', 'tenant_%', '--json']);
    expect(up.code, up.stderr).toBe(1);
    expect(up.json()).toMatchObject({ ok: false, tenants: 3, failed: ['tenant_b'], applied: 2 });
    expect(await tables(join(data, 'tenant_a.db'))).toContain('mig_migrations');
    expect(await tables(join(data, 'tenant_c.db'))).toContain('todos');
    expect(await tables(join(data, 'other.db'))).toEqual(['keep']);
    const status = await run(['status', '--tenants', 'tenant_%', '--verbose']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/2 up to date, 1 pending, 0 failed or drifted/);
    expect(status.stdout).toMatch(/tenant_b: 1 pending: 001_todos/);
  });
});
