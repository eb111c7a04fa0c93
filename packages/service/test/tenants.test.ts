import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MigErrorCode } from '@mig/core';
import { createListSource } from '@mig/kysely-adapter';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { lastJsonLine, startNode } from '../../../test/support/processes.js';
import { type CreateDatabaseOptions, createDatabase, type MigDatabase } from '../src/index.js';

// A schema per tenant on a real PostgreSQL database: each tenant's first request brings its own schema up to
// date, in its own mig tables, and nothing else is touched.

const INSTANCE = fileURLToPath(new URL('./fixtures/tenant-instance.mjs', import.meta.url));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const FILES = {
  '001_todos.sql': 'create table todos (id serial primary key, title text not null);\n',
  '002_done.sql': 'alter table todos add column done boolean not null default false;\n',
  // Counts every run of a migration in a table outside the tenants: exactly once means one row per tenant.
  '003_log.sql': 'insert into public.run_log (schema_name) values (current_schema());\n',
};

describe('createDatabase({ tenants }) on PostgreSQL schemas', () => {
  let database: TestDatabase;
  let dir: string;
  let opened: MigDatabase<any>[] = [];

  const open = (extra: Partial<CreateDatabaseOptions> = {}) => {
    const db = createDatabase<any>({
      cwd: dir,
      env: {},
      overrides: { databaseUrl: database.url, migrationsDir: dir, autoMigrate: true },
      logger: silent,
      handleSignals: false,
      tenants: true,
      ...extra,
    });
    opened.push(db);
    return db;
  };

  const schemas = async () =>
    (
      await database.query<{ name: string }>(
        `select nspname as name from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema' order by 1`,
      )
    ).rows.map((r) => r.name);
  const tablesIn = async (schema: string) =>
    (
      await database.query<{ name: string }>(
        'select table_name as name from information_schema.tables where table_schema = $1 order by 1',
        [schema],
      )
    ).rows.map((r) => r.name);
  const runs = async () =>
    (await database.query<{ schema_name: string }>('select schema_name from public.run_log order by 1')).rows.map(
      (r) => r.schema_name,
    );

  beforeAll(async () => {
    database = await createTestDatabase('tenants');
    await database.query('create table public.run_log (schema_name text not null)');
    dir = await mkdtemp(join(tmpdir(), 'mig-tenants-'));
    for (const [name, text] of Object.entries(FILES)) await writeFile(join(dir, name), text);
  });
  afterEach(async () => {
    await Promise.all(opened.map((d) => d.close()));
    opened = [];
  });
  afterAll(async () => {
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("migrates each tenant's schema on its first request, its mig tables in it, and scopes queries to it", async () => {
    const db = open({ tenants: { schema: (id) => `tenant_${id}` } });
    const acme = await db.ensureInitialized({ tenant: 'acme' });
    await acme.insertInto('todos').values({ title: 'for acme' }).execute();
    const globex = await db.ensureInitialized({ tenant: 'globex' });
    expect(await globex.selectFrom('todos').selectAll().execute()).toEqual([]);
    expect(await acme.selectFrom('todos').select('title').execute()).toEqual([{ title: 'for acme' }]);
    expect(await tablesIn('tenant_acme')).toEqual([
      'mig_migrations',
      'mig_migrations_head',
      'mig_migrations_lock',
      'todos',
    ]);
    expect(await tablesIn('tenant_globex')).toContain('todos');
    // Nothing in public but the test's own table: no mig tables, no todos.
    expect(await tablesIn('public')).toEqual(['run_log']);
    expect(await runs()).toEqual(['tenant_acme', 'tenant_globex']);

    // The state and the report carry the tenant; a ready tenant answers with the very same promise.
    expect(db.state('acme')).toMatchObject({
      phase: 'ready',
      tenant: 'acme',
      appliedHere: ['001_todos', '002_done', '003_log'],
    });
    expect(db.report().tenants).toMatchObject({ known: 2, ready: 2, failingCount: 0 });
    const options = { tenant: 'acme' };
    expect(db.ensureInitialized(options)).toBe(db.ensureInitialized(options));
    expect(db.state('never-seen')).toMatchObject({ phase: 'idle', tenant: 'never-seen' });
  });

  it('quotes names that need it, and refuses names that are not identifiers before touching anything', async () => {
    const db = open();
    const before = await schemas();
    const eu = await db.ensureInitialized({ tenant: 'Acme-EU' });
    expect(await eu.selectFrom('todos').selectAll().execute()).toEqual([]);
    expect(await tablesIn('Acme-EU')).toContain('todos');
    for (const bad of ['a"b', 'x; drop schema public cascade', 'pg_evil', '1abc', 'a.b', 'x'.repeat(64), '']) {
      const error = await db.ensureInitialized({ tenant: bad }).then(
        () => null,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(error?.code, bad).toBe(MigErrorCode.InvalidOption);
      expect(error?.message).toMatch(/tenant|Tenant/);
    }
    expect(await schemas()).toEqual([...before, 'Acme-EU'].sort());
    expect(db.report().tenants?.known).toBe(1);
  });

  it('without a tenant, or with one on a database without tenants, says what to pass', async () => {
    await expect(open().ensureInitialized()).rejects.toThrow(/pass the tenant/);
    await expect(open({ tenants: undefined }).ensureInitialized({ tenant: 'x' })).rejects.toThrow(/no tenants/);
  });

  it('does not create a missing schema when the configuration says not to', async () => {
    const db = open({
      overrides: { databaseUrl: database.url, migrationsDir: dir, autoMigrate: true, createTenantSchemas: false },
    });
    await expect(db.ensureInitialized({ tenant: 'nobody' })).rejects.toThrow(/no schema "nobody".*createTenantSchemas/);
    expect(await schemas()).not.toContain('nobody');
    await database.query('create schema "made_by_ops"');
    const ops = await db.ensureInitialized({ tenant: 'made_by_ops' });
    expect(await ops.selectFrom('todos').selectAll().execute()).toEqual([]);
  });

  it('a failing tenant fails (or degrades) alone, by the failure policy; the others serve', async () => {
    // The tenant's schema already has a table the first migration creates: its run fails there only.
    await database.query('create schema broken; create table broken.todos (x int)');
    const strict = open();
    await expect(strict.ensureInitialized({ tenant: 'broken' })).rejects.toMatchObject({
      code: MigErrorCode.MigrationFailed,
    });
    const fine = await strict.ensureInitialized({ tenant: 'fine' });
    expect(await fine.selectFrom('todos').selectAll().execute()).toEqual([]);
    expect(strict.state('broken')).toMatchObject({ phase: 'failed', tenant: 'broken' });
    expect(strict.report().tenants).toMatchObject({ ready: 1, failing: ['broken'], failingCount: 1 });
    // Nothing of the failed migration stayed, and no record of it.
    expect(await tablesIn('broken')).toEqual(['mig_migrations', 'mig_migrations_head', 'mig_migrations_lock', 'todos']);
    expect((await database.query('select count(*)::int as n from broken.mig_migrations')).rows[0].n).toBe(0);

    const lenient = open({
      overrides: { databaseUrl: database.url, migrationsDir: dir, autoMigrate: true, onFailure: 'degrade' },
    });
    await lenient.ensureInitialized({ tenant: 'broken' });
    expect(lenient.state('broken')).toMatchObject({ phase: 'degraded', serving: true });
    expect(lenient.state('fine').phase).toBe('idle');
    await lenient.ensureInitialized({ tenant: 'fine' });
    expect(lenient.state('fine').phase).toBe('ready');
  });

  it("runs a no-transaction migration in the tenant's schema too, and leaves the pooled connection as it was", async () => {
    const migrations = createListSource([
      { name: '001_notes', sql: 'create table notes (id int primary key, body text);' },
      { name: '002_index', sql: '-- mig:no-transaction\ncreate index concurrently notes_body on notes (body);' },
    ]);
    const db = open({ migrations, tenants: { schema: (id) => `nt_${id}` }, maxConnections: 1 });
    const kysely = await db.ensureInitialized({ tenant: 'one' });
    const { rows } = await database.query<{ schema: string }>(
      `select schemaname as schema from pg_indexes where indexname = 'notes_body'`,
    );
    expect(rows).toEqual([{ schema: 'nt_one' }]);
    // The one pooled connection ran the migration: its search_path is back to the default.
    const path = await sql<{ p: string }>`select current_setting('search_path') as p`.execute(kysely);
    expect(path.rows[0]?.p).toBe('"$user", public');
  });

  it('bounds how many tenants migrate at once in a process', async () => {
    let active = 0;
    let most = 0;
    const migrations = createListSource([
      {
        name: '001_slow',
        checksum: 'a'.repeat(64),
        up: async (db) => {
          active += 1;
          most = Math.max(most, active);
          await sql`select pg_sleep(0.05)`.execute(db);
          await db.schema.createTable('slow').addColumn('id', 'integer').execute();
          active -= 1;
        },
      },
    ]);
    const db = open({ migrations, tenants: { schema: (id) => `bound_${id}`, concurrency: 2 }, maxConnections: 8 });
    const tenants = ['a', 'b', 'c', 'd', 'e', 'f'];
    await Promise.all(tenants.map((tenant) => db.ensureInitialized({ tenant })));
    expect(most).toBeGreaterThanOrEqual(1);
    expect(most).toBeLessThanOrEqual(2);
    for (const t of tenants) expect(await tablesIn(`bound_${t}`)).toContain('slow');
  });

  it("applies each migration exactly once when several processes make a tenant's first request at once", async () => {
    const instances = Array.from({ length: 4 }, () =>
      startNode(INSTANCE, ['--url', database.url, '--dir', dir, '--tenant', 'race'], { cwd: dir }),
    );
    await Promise.all(instances.map((i) => i.waitFor(/armed/)));
    for (const i of instances) i.child.kill('SIGUSR2');
    const outcomes = (await Promise.all(instances.map((i) => i.done))).map((r) =>
      lastJsonLine<{ error: unknown; applied: string[] }>(r),
    );
    expect(outcomes.map((o) => o.error)).toEqual([null, null, null, null]);
    expect(outcomes.flatMap((o) => o.applied).sort()).toEqual(['001_todos', '002_done', '003_log']);
    expect((await runs()).filter((s) => s === 'tenant_race')).toEqual(['tenant_race']);
    expect((await database.query('select count(*)::int as n from tenant_race.mig_migrations')).rows[0].n).toBe(3);
  });
});
