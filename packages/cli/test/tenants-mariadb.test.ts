import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../../kysely-adapter/test/support/mysql.js';
import { mig, type Workspace, workspace } from './support.js';

// `mig up|status --tenants` over real MariaDB databases, one per tenant: matching databases migrated, a
// failing one named, the others untouched.

describe('mig --tenants on MariaDB databases', () => {
  let database: TestMysqlDatabase;
  let ws: Workspace;
  let prefix: string;
  const run = (args: string[]) => mig(args, { cwd: ws.dir, env: { DATABASE_URL: database.url } });
  const tablesIn = async (name: string) =>
    (
      await database.query<{ name: string }>(
        'select table_name as name from information_schema.tables where table_schema = ? order by 1',
        [name],
      )
    ).map((r) => r.name);

  beforeAll(async () => {
    database = await createTestMysqlDatabase('cli_tenants');
    prefix = `${database.name}_t`;
    ws = await workspace({ '001_todos.sql': 'create table todos (id int primary key, title text not null);\n' });
    for (const t of ['a', 'b', 'c']) await database.query(`create database \`${prefix}${t}\``);
    await database.query(`create table \`${prefix}b\`.todos (x int)`);
  });
  afterAll(async () => {
    const left = await database.query<{ name: string }>(
      'select schema_name as name from information_schema.schemata where schema_name like ?',
      [`${prefix}%`],
    );
    for (const { name } of left) await database.query(`drop database \`${name}\``);
    await database?.drop();
    await ws?.dispose();
  });

  it('migrates every matching database, names the failing one, and sums up the status', async () => {
    const up = await run(['up', '--tenants', `${prefix}%`, '--json']);
    expect(up.code, up.stderr).toBe(1);
    expect(up.json()).toMatchObject({ ok: false, tenants: 3, failed: [`${prefix}b`] });
    expect(await tablesIn(`${prefix}a`)).toContain('todos');
    expect(await tablesIn(`${prefix}c`)).toContain('todos');
    // The connection's own database is no tenant: nothing of mig's there.
    expect(await database.tables()).toEqual([]);
    const status = await run(['status', '--tenants', `${prefix}%`, '--fail-on-pending']);
    expect(status.code).toBe(5);
    expect(status.stdout).toMatch(/2 up to date, 1 pending, 0 failed or drifted/);
  });
});
