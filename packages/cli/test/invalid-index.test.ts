import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { CLI, mig, startNode, type Workspace, workspace } from './support.js';

// A `-- mig:no-transaction` migration whose CREATE INDEX CONCURRENTLY fails, or whose process is killed in
// the middle of the build, leaves an INVALID index behind. mig names it, shows it, and drops it itself before
// the same migration runs again: fixing the data is all the user has to do.

const TABLE =
  'create table items (id serial primary key, code int not null);\ninsert into items (code) values (1), (1), (2);\n';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Run = (args: string[]) => ReturnType<typeof mig>;

async function setup(index: string): Promise<{ database: TestDatabase; ws: Workspace; run: Run }> {
  const database = await createTestDatabase('invalid_index');
  const ws = await workspace({ '001_items.sql': TABLE, '002_index.sql': `-- mig:no-transaction\n${index}\n` });
  cleanups.push(
    () => database.drop(),
    () => ws.dispose(),
  );
  const run: Run = (args) => mig(args, { cwd: ws.dir, env: { DATABASE_URL: database.url } });
  return { database, ws, run };
}

async function indexState(database: TestDatabase, name: string): Promise<'valid' | 'invalid' | 'absent'> {
  const { rows } = await database.query(
    `select i.indisvalid as valid from pg_index i where i.indexrelid = to_regclass($1)`,
    [`public.${name}`],
  );
  return rows.length === 0 ? 'absent' : rows[0].valid ? 'valid' : 'invalid';
}

describe('an invalid index left by a migration outside a transaction', () => {
  it('a failure on duplicate data names the index and the statement that removes it; after the fix, up just works', async () => {
    const { database, run } = await setup('create unique index concurrently items_code_key on items (code);');
    const failed = await run(['up']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('Failed to apply migration "002_index"');
    expect(failed.stdout).toContain('It left an invalid index behind: public.items_code_key');
    expect(failed.stdout).toContain('drop index concurrently if exists "public"."items_code_key"');
    expect(failed.stdout).toContain('mig drops it itself before it runs this migration again');
    expect(await indexState(database, 'items_code_key')).toBe('invalid');
    expect((await database.query('select name from mig_migrations')).rows).toEqual([{ name: '001_items' }]);

    const status = await run(['status', '--json']);
    expect(status.json().leftovers).toEqual([
      {
        migration: '002_index',
        kind: 'invalid index',
        object: 'public.items_code_key',
        remove: 'drop index concurrently if exists "public"."items_code_key"',
        removedOnRerun: true,
      },
    ]);
    expect((await run(['status'])).stdout).toContain('Left behind by a failed run (1)');

    // The fix is to the data only; the next run drops the invalid index (saying so) and builds it again.
    await database.query('delete from items where id = 2');
    const fixed = await run(['up']);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.stderr).toContain(
      'dropping the invalid index public.items_code_key that an earlier run of 002_index left behind',
    );
    expect(await indexState(database, 'items_code_key')).toBe('valid');
    expect((await run(['status', '--json'])).json()).toMatchObject({ state: 'up-to-date', leftovers: [] });
  });

  it('after kill -9 in the middle of the build, the next up succeeds without manual work', {
    timeout: 120_000,
  }, async () => {
    const { database, ws, run } = await setup('create index concurrently items_code_idx on items (code);');
    expect((await run(['up', '--to', '001_items'])).code).toBe(0);
    // A writer with an open transaction on the table: the build creates its (invalid) index, then waits for it.
    const writer = new pg.Client({ connectionString: database.url });
    await writer.connect();
    cleanups.push(() => writer.end());
    await writer.query('begin');
    await writer.query('insert into items (code) values (7)');
    const up = startNode(CLI, ['up'], { cwd: ws.dir, env: { DATABASE_URL: database.url, NO_COLOR: '1' } });
    const building = async () =>
      (
        await database.query(
          `select count(*)::int as n from pg_stat_activity where query ilike '%create index concurrently items_code_idx%' and pid <> pg_backend_pid() and state = 'active'`,
        )
      ).rows[0].n as number;
    for (
      let i = 0;
      i < 300 && ((await building()) === 0 || (await indexState(database, 'items_code_idx')) !== 'invalid');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await indexState(database, 'items_code_idx')).toBe('invalid');
    up.child.kill('SIGKILL');
    expect((await up.done).signal).toBe('SIGKILL');
    // The server notices the dead client (mig's session checks every second) and ends the build.
    for (let i = 0; i < 200 && (await building()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await building()).toBe(0);
    await writer.query('commit');
    expect(await indexState(database, 'items_code_idx')).toBe('invalid');
    expect((await run(['status', '--json'])).json().leftovers).toHaveLength(1);

    const again = await run(['up']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stderr).toContain('dropping the invalid index public.items_code_idx');
    expect(await indexState(database, 'items_code_idx')).toBe('valid');
    expect((await database.query('select name from mig_migrations order by id')).rows).toEqual([
      { name: '001_items' },
      { name: '002_index' },
    ]);
  });

  it('never drops an index it cannot attribute: an invalid index of another name stays', async () => {
    const { database, run } = await setup('create index concurrently items_code_idx on items (code);');
    expect((await run(['up', '--to', '001_items'])).code).toBe(0);
    // Someone else's failed build: invalid, but not an index the pending migration creates.
    await database.query('create unique index concurrently items_other_key on items (code)').catch(() => {});
    expect(await indexState(database, 'items_other_key')).toBe('invalid');
    expect((await run(['status', '--json'])).json().leftovers).toEqual([]);
    const up = await run(['up']);
    expect(up.code).toBe(0);
    expect(up.stderr).not.toContain('dropping');
    expect(await indexState(database, 'items_other_key')).toBe('invalid');
  });
});
