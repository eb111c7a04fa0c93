import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MigErrorCode } from '@mig/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lastJsonLine, startNode } from '../../../test/support/processes.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../../kysely-adapter/test/support/mysql.js';
import { createDatabase, type MigDatabase } from '../src/index.js';

// A database per tenant on a real MariaDB server: each tenant's first request creates and migrates its own
// database, and the Kysely instance it gets works there.

const INSTANCE = fileURLToPath(new URL('./fixtures/tenant-instance.mjs', import.meta.url));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('createDatabase({ tenants }) on MariaDB databases', () => {
  let database: TestMysqlDatabase;
  let dir: string;
  /** Tenant databases live beside the test's own on a shared server: their names start with its name. */
  let prefix: string;
  let opened: MigDatabase<any>[] = [];

  const open = (onFailure: 'throw' | 'degrade' = 'throw') => {
    const db = createDatabase<any>({
      cwd: dir,
      env: {},
      overrides: { databaseUrl: database.url, migrationsDir: dir, autoMigrate: true, onFailure },
      logger: silent,
      handleSignals: false,
      tenants: { schema: (id) => `${prefix}${id}` },
    });
    opened.push(db);
    return db;
  };
  const tablesIn = async (name: string) =>
    (
      await database.query<{ name: string }>(
        'select table_name as name from information_schema.tables where table_schema = ? order by 1',
        [name],
      )
    ).map((r) => r.name);
  const runs = async () => (await database.query<{ db: string }>('select db from run_log order by 1')).map((r) => r.db);

  beforeAll(async () => {
    database = await createTestMysqlDatabase('tenants');
    prefix = `${database.name}_`;
    await database.query('create table run_log (db varchar(100) not null)');
    dir = await mkdtemp(join(tmpdir(), 'mig-tenants-my-'));
    await writeFile(
      join(dir, '001_todos.sql'),
      'create table todos (id int primary key auto_increment, title text not null);\n',
    );
    await writeFile(join(dir, '002_log.sql'), `insert into \`${database.name}\`.run_log values (database());\n`);
  });
  afterEach(async () => {
    await Promise.all(opened.map((d) => d.close()));
    opened = [];
  });
  afterAll(async () => {
    const left = await database.query<{ name: string }>(
      'select schema_name as name from information_schema.schemata where schema_name like ?',
      [`${prefix}%`],
    );
    for (const { name } of left) await database.query(`drop database \`${name}\``);
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates and migrates each tenant's database on its first request, and scopes queries to it", async () => {
    const db = open();
    const acme = await db.ensureInitialized({ tenant: 'acme' });
    await acme.insertInto('todos').values({ title: 'for acme' }).execute();
    const eu = await db.ensureInitialized({ tenant: 'Globex-EU' });
    expect(await eu.selectFrom('todos').selectAll().execute()).toEqual([]);
    expect(await acme.selectFrom('todos').select('title').execute()).toEqual([{ title: 'for acme' }]);
    expect(await tablesIn(`${prefix}acme`)).toEqual([
      'mig_migrations',
      'mig_migrations_head',
      'mig_migrations_lock',
      'todos',
    ]);
    expect(await tablesIn(`${prefix}Globex-EU`)).toContain('todos');
    // The connection's own database has no mig tables and no todos: only the test's log.
    expect(await database.tables()).toEqual(['run_log']);
    expect((await runs()).sort()).toEqual([`${prefix}Globex-EU`, `${prefix}acme`].sort());
    expect(db.state('acme')).toMatchObject({ phase: 'ready', tenant: 'acme' });
    await expect(db.ensureInitialized({ tenant: 'a`b' })).rejects.toMatchObject({ code: MigErrorCode.InvalidOption });
  });

  it('a failing tenant fails alone; with degrade it serves degraded, and the others are ready', async () => {
    await database.query(`create database \`${prefix}broken\``);
    await database.query(`create table \`${prefix}broken\`.todos (x int)`);
    const db = open('degrade');
    await db.ensureInitialized({ tenant: 'broken' });
    await db.ensureInitialized({ tenant: 'healthy' });
    expect(db.state('broken').phase).toBe('degraded');
    expect(db.state('healthy').phase).toBe('ready');
    expect(db.report().tenants).toMatchObject({ ready: 1, failing: ['broken'] });
  });

  it("applies each migration exactly once when several processes make a tenant's first request at once", async () => {
    const instances = Array.from({ length: 3 }, () =>
      startNode(INSTANCE, ['--url', database.url, '--dir', dir, '--tenant', 'race', '--prefix', prefix], { cwd: dir }),
    );
    await Promise.all(instances.map((i) => i.waitFor(/armed/)));
    for (const i of instances) i.child.kill('SIGUSR2');
    const outcomes = (await Promise.all(instances.map((i) => i.done))).map((r) =>
      lastJsonLine<{ error: unknown; applied: string[] }>(r),
    );
    expect(outcomes.map((o) => o.error)).toEqual([null, null, null]);
    expect(outcomes.flatMap((o) => o.applied).sort()).toEqual(['001_todos', '002_log']);
    expect((await runs()).filter((d) => d === `${prefix}race`)).toHaveLength(1);
  });
});
