import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { CLI, mig, startNode, type Workspace, workspace } from './support.js';

// `mig up|status|verify --tenants` over real PostgreSQL schemas: each tenant's schema in turn (a few at once),
// a failure in one never stopping the others, a run killed with -9 finished by the next, and schemas that do
// not match never touched.

// Every run of a migration leaves a row outside the tenants: exactly once is one row per tenant and migration.
const log = (name: string) => `insert into public.run_log values (current_schema(), '${name}');\n`;
const FILES = {
  '001_todos.sql': `create table todos (id serial primary key, title text not null);\n${log('001')}`,
  '002_done.sql': `alter table todos add column done boolean not null default false;\n${log('002')}`,
};

describe('mig --tenants on PostgreSQL schemas', () => {
  let database: TestDatabase;
  let ws: Workspace;
  const run = (args: string[]) => mig(args, { cwd: ws.dir, env: { DATABASE_URL: database.url } });
  const tablesIn = async (schema: string) =>
    (
      await database.query<{ name: string }>(
        'select table_name as name from information_schema.tables where table_schema = $1 order by 1',
        [schema],
      )
    ).rows.map((r) => r.name);
  const runs = async () =>
    (await database.query<{ s: string; m: string }>('select schema_name as s, migration as m from public.run_log'))
      .rows;
  const schemas = async () =>
    (
      await database.query<{ n: string }>(
        `select nspname as n from pg_namespace where nspname not like 'pg\\_%' order by 1`,
      )
    ).rows.map((r) => r.n);

  beforeAll(async () => {
    database = await createTestDatabase('cli_tenants');
    await database.query('create table public.run_log (schema_name text not null, migration text not null)');
  });
  beforeEach(async () => {
    await ws?.dispose();
    ws = await workspace(FILES);
    await database.query(
      `do $$ declare s text; begin for s in select nspname from pg_namespace where nspname not like 'pg\\_%' and nspname not in ('public', 'information_schema') loop execute format('drop schema %I cascade', s); end loop; end $$`,
    );
    await database.query('truncate public.run_log');
  });
  afterAll(async () => {
    await ws?.dispose();
    await database?.drop();
  });

  it('applies the folder to every matching schema, names a failing tenant, and touches nothing else', async () => {
    await database.query('create schema tenant_a; create schema tenant_b; create schema tenant_c; create schema other');
    await database.query('create table other.keep (id int)');
    // tenant_b already has the table the first migration creates: it fails there, and only there.
    await database.query('create table tenant_b.todos (x int)');
    const up = await run(['up', '--tenants', 'tenant_%', '--concurrency', '2']);
    expect(up.code, up.stderr).toBe(1);
    expect(up.stderr).toMatch(/✓ tenant_a: 2 applied/);
    expect(up.stderr).toMatch(/✗ tenant_b: .*todos/);
    expect(up.stdout).toMatch(/2 of 3 tenant\(s\) up to date/);
    expect(up.stdout).toMatch(/1 tenant\(s\) failed: tenant_b/);
    for (const t of ['tenant_a', 'tenant_c']) expect(await tablesIn(t)).toContain('todos');
    expect(await tablesIn('other')).toEqual(['keep']);
    expect(await tablesIn('public')).toEqual(['run_log']);

    await database.query('drop table tenant_b.todos');
    const again = await run(['up', '--tenants', 'tenant_%', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ ok: true, tenants: 3, failed: [], applied: 2 });
    expect((await runs()).length).toBe(6);
  });

  it('status and verify sum up the tenants, and fail on pending when asked', async () => {
    await database.query('create schema tenant_x; create schema tenant_y');
    expect((await run(['up', '--tenants', 'tenant_%'])).code).toBe(0);
    await ws.write('003_more.sql', `alter table todos add column note text;\n${log('003')}`);
    await database.query('create schema tenant_z');
    const status = await run(['status', '--tenants', 'tenant_%']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/0 up to date, 3 pending, 0 failed or drifted/);
    const failing = await run(['status', '--tenants', 'tenant_%', '--fail-on-pending', '--verbose']);
    expect(failing.code).toBe(5);
    expect(failing.stdout).toMatch(/tenant_z: 3 pending: 001_todos, 002_done, 003_more/);
    const json = (await run(['status', '--tenants', 'tenant_%', '--json'])).json();
    expect(json).toMatchObject({ tenants: 3, upToDate: 0, pending: 3, failed: [] });
    expect((await run(['verify', '--tenants', 'tenant_%'])).code).toBe(5);
    expect((await run(['up', '--tenants', 'tenant_x,tenant_y,tenant_z'])).code).toBe(0);
    expect((await run(['verify', '--tenants', 'tenant_%'])).code).toBe(0);
    // A changed file is drift in every tenant that applied it.
    await ws.write('003_more.sql', `alter table todos add column note2 text;\n${log('003')}`);
    const drifted = await run(['status', '--tenants', 'tenant_%']);
    expect(drifted.code).toBe(4);
    expect(drifted.stdout).toMatch(/0 up to date, 0 pending, 3 failed or drifted/);
  });

  it('creates the schemas of a named list, quoting names that need it, and refuses names that are not identifiers', async () => {
    const up = await run(['up', '--tenants', 'acme, Globex-EU']);
    expect(up.code, up.stderr).toBe(0);
    expect(await tablesIn('Globex-EU')).toContain('todos');
    expect(await tablesIn('acme')).toContain('todos');
    const before = await schemas();
    const refused = await run(['up', '--tenants', 'fresh,a"b,x;drop schema public']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/Refused tenant name\(s\): "a\\"b" holds characters/);
    expect(await schemas()).toEqual(before);
    const none = await run(['up', '--tenants']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--tenants was given no pattern/);
  });

  it("takes the tenants from mig.config's function, given the Kysely instance, when --tenants has no value", async () => {
    await database.query('create table public.tenant_registry (name text not null)');
    try {
      await database.query("insert into public.tenant_registry values ('reg_one'), ('reg_two')");
      await writeFile(
        join(ws.dir, 'mig.config.mjs'),
        "export default { tenants: async (db) => (await db.selectFrom('public.tenant_registry').select('name').execute()).map((r) => r.name) };\n",
      );
      const up = await run(['up', '--tenants', '--json']);
      expect(up.code, up.stderr).toBe(0);
      expect(up.json()).toMatchObject({ tenants: 2, failed: [], applied: 4 });
      expect(await tablesIn('reg_two')).toContain('todos');
      const status = await run(['status', '--tenants']);
      expect(status.stdout).toMatch(/2 up to date, 0 pending/);
    } finally {
      await database.query('drop table public.tenant_registry');
    }
  });

  it('SIGINT part-way: no new tenant starts, the summary says how many did not, exit 130; the next run finishes', async () => {
    const tenants = Array.from({ length: 8 }, (_, i) => `tenant_s${i}`);
    for (const t of tenants) await database.query(`create schema ${t}`);
    await ws.write('003_slow.sql', `select pg_sleep(0.3);\n${log('003')}`);
    const up = startNode(CLI, ['up', '--tenants', 'tenant_s%', '--concurrency', '1', '--json'], {
      cwd: ws.dir,
      env: { DATABASE_URL: database.url, NO_COLOR: '1' },
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(async () => {
        if ((await runs()).some((r) => r.m === '003')) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
      up.done.then(() => {
        clearInterval(timer);
        reject(new Error('the run ended before it was stopped'));
      });
    });
    up.child.kill('SIGINT');
    const result = await up.done;
    expect(result.code, result.stderr).toBe(130);
    const doc = JSON.parse(result.stdout);
    expect(doc.notStarted).toBeGreaterThan(0);
    expect(doc.notStarted + doc.outcomes.length).toBe(tenants.length);
    const again = await run(['up', '--tenants', 'tenant_s%', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const all = await runs();
    for (const t of tenants) expect(all.filter((r) => r.s === t).length, t).toBe(3);
  });

  it('killed with -9 part-way, run again, applies each migration exactly once in every tenant', async () => {
    const tenants = Array.from({ length: 10 }, (_, i) => `tenant_k${String(i).padStart(2, '0')}`);
    for (const t of tenants) await database.query(`create schema ${t}`);
    await ws.write('003_slow.sql', `select pg_sleep(0.2);\n${log('003')}`);
    const up = startNode(CLI, ['up', '--tenants', 'tenant_k%', '--concurrency', '2'], {
      cwd: ws.dir,
      env: { DATABASE_URL: database.url, NO_COLOR: '1' },
    });
    // Wait for a few tenants to finish, then kill it in the middle of the others.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(async () => {
        const done = (await runs()).filter((r) => r.m === '003').length;
        if (done >= 3) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
      up.done.then(() => {
        clearInterval(timer);
        reject(new Error('the run ended before it was killed'));
      });
    });
    up.child.kill('SIGKILL');
    expect((await up.done).signal).toBe('SIGKILL');
    const partial = (await runs()).filter((r) => r.m === '003').length;
    expect(partial).toBeLessThan(tenants.length);
    const again = await run(['up', '--tenants', 'tenant_k%', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const all = await runs();
    for (const t of tenants) {
      expect(
        all
          .filter((r) => r.s === t)
          .map((r) => r.m)
          .sort(),
        t,
      ).toEqual(['001', '002', '003']);
      expect((await database.query(`select count(*)::int as n from ${t}.mig_migrations`)).rows[0].n).toBe(3);
    }
  });
});
