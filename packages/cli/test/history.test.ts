import { rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogSnapshot } from '../../../test/support/catalog.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import {
  copyToolFixture,
  FOREIGN_FIXTURE_NAMES,
  FOREIGN_FIXTURE_TABLES,
  migrateWithTool,
  snapshotTables,
  toolTables,
} from '../../kysely-adapter/test/support/foreign-tools.js';
import { mig } from './support.js';

// Switching to mig on a live database, as a team would: a real tool migrated it; mig adopts that history,
// runs nothing again, and carries on with new migrations. Then baseline and repair.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fresh(label: string): Promise<TestDatabase> {
  const database = await createTestDatabase(label);
  cleanups.push(() => database.drop());
  return database;
}

const NEW_MIGRATION = 'create table mig_added_later (id int primary key);\n-- mig:down\ndrop table mig_added_later;\n';

describe.each(['kysely', 'knex', 'node-pg-migrate', 'drizzle'] as const)('switching from %s', (tool) => {
  it('adopts its history with one command, runs nothing again, and carries on with mig', async () => {
    const database = await fresh(`adopt_${tool.replace(/-/g, '_')}`);
    const folder = await copyToolFixture(tool);
    cleanups.push(() => folder.dispose());
    await migrateWithTool[tool](database.url);
    const run = (args: string[]) =>
      mig([...args, '--migrations', folder.dir], { cwd: folder.dir, env: { DATABASE_URL: database.url } });
    const history = toolTables(tool);
    const before = await snapshotTables(database.db, history);
    const names = FOREIGN_FIXTURE_NAMES[tool];

    // Before adopting: status says what to do; up refuses rather than run the tool's migrations again.
    const status = await run(['status']);
    expect(status.stdout).toContain(`mig adopt --from ${tool}`);
    const refused = await run(['up']);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toContain('no mig records');
    expect(refused.stdout).toContain(`mig adopt --from ${tool}`);
    expect(await catalogTables(database)).not.toContain('mig_migrations_head');

    // A dry run writes nothing at all, not even mig's tables.
    const catalog = await catalogSnapshot((text) => database.query(text));
    const dry = await run(['adopt', '--from', tool, '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json().changes.map((c: { name: string }) => c.name)).toEqual(names);
    expect(await catalogSnapshot((text) => database.query(text))).toBe(catalog);

    const adopted = await run(['adopt', '--from', tool]);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.stdout).toContain(`Adopted 3 migrations from ${tool}'s history`);
    // The other tool's tables are exactly as they were (rows and their xmin): a team could switch back.
    expect(await snapshotTables(database.db, history)).toEqual(before);
    const records = await database.query('select name, origin, adopted_from, runnable from mig_migrations order by id');
    expect(records.rows).toEqual(
      names.map((name) => ({ name, origin: 'adopted', adopted_from: tool, runnable: tool === 'kysely' })),
    );
    expect((await run(['verify'])).code).toBe(0);
    expect((await run(['status', '--fail-on-pending'])).code).toBe(0);

    // Adopting again records nothing new.
    const again = await run(['adopt', '--from', tool, '--json']);
    expect(again.json()).toMatchObject({ ok: true, changes: [] });

    // A new migration, written for mig, is the only one applied; the tool's tables still exist once.
    await writeFile(join(folder.dir, '20991231000000_mig_added_later.sql'), NEW_MIGRATION);
    const up = await run(['up', '--json']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.json().results.map((r: { name: string }) => r.name)).toEqual(['20991231000000_mig_added_later']);
    for (const table of FOREIGN_FIXTURE_TABLES[tool]) expect(await catalogTables(database)).toContain(table);
    expect((await run(['verify'])).code).toBe(0);

    // Reverting: mig's own migration, yes; an adopted one only where mig can run its file (Kysely's).
    expect((await run(['down'])).code).toBe(0);
    const down = await run(['down']);
    if (tool === 'kysely') {
      expect(down.code, down.stdout).toBe(0);
      expect(down.stdout).toContain('Reverted 1 migration');
    } else {
      expect(down.code).toBe(2);
      expect(down.stdout).toContain(`adopted from ${tool}'s history, and written for ${tool}`);
      expect((await database.query('select count(*)::int as n from mig_migrations')).rows[0].n).toBe(3);
    }
  });
});

describe('adopt refuses when the history and the folder disagree', () => {
  it('names a recorded migration with no file and a file the tool never applied, and records nothing', async () => {
    const database = await fresh('adopt_mismatch');
    const folder = await copyToolFixture('kysely');
    cleanups.push(() => folder.dispose());
    await migrateWithTool.kysely(database.url, folder.dir);
    const [first] = FOREIGN_FIXTURE_NAMES.kysely;
    await unlink(join(folder.dir, `${first}.mjs`));
    await writeFile(join(folder.dir, '20240101120000_never_applied.sql'), 'create table never_applied (id int);\n');
    const adopt = await mig(['adopt', '--from', 'kysely', '--migrations', folder.dir], {
      cwd: folder.dir,
      env: { DATABASE_URL: database.url },
    });
    expect(adopt.code).toBe(4);
    expect(adopt.stdout).toContain(`"${first}" is applied in kysely's history`);
    expect(adopt.stdout).toContain('has no file in the migrations folder');
    expect(adopt.stdout).toContain('"20240101120000_never_applied" was never applied by kysely but sorts before');
    expect(adopt.stdout).toContain('nothing was recorded');
    const { rows } = await database.query(`select to_regclass('mig_migrations')::text as t`);
    const count = rows[0].t ? (await database.query('select count(*)::int as n from mig_migrations')).rows[0].n : 0;
    expect(count).toBe(0);
  });

  it("adopts Kysely's history from a custom table and schema", async () => {
    const database = await fresh('adopt_custom');
    const folder = await copyToolFixture('kysely');
    cleanups.push(() => folder.dispose());
    await migrateWithTool.kysely(database.url, folder.dir, { table: 'app_migrations', schema: 'ops' });
    const run = (args: string[]) =>
      mig([...args, '--migrations', folder.dir], { cwd: folder.dir, env: { DATABASE_URL: database.url } });
    const missing = await run(['adopt', '--from', 'kysely']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain('There is no kysely history');
    const adopted = await run(['adopt', '--from', 'kysely', '--table', 'app_migrations', '--schema', 'ops']);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.stdout).toContain('(ops.app_migrations)');
    expect((await run(['verify'])).code).toBe(0);
  });
});

describe('baseline and repair', () => {
  const MIGRATIONS = {
    '001_users.sql': 'create table users (id int primary key);\n-- mig:down\ndrop table users;\n',
    '002_posts.sql': 'create table posts (id int primary key);\n-- mig:down\ndrop table posts;\n',
    '003_tags.sql': 'create table tags (id int primary key);\n-- mig:down\ndrop table tags;\n',
  };

  async function project(database: TestDatabase) {
    const { workspace } = await import('./support.js');
    const ws = await workspace(MIGRATIONS);
    cleanups.push(() => ws.dispose());
    const run = (args: string[]) => mig(args, { cwd: ws.dir, env: { DATABASE_URL: database.url } });
    return { ws, run };
  }

  it('baseline records a schema made by other means, running nothing; repeats as a no-op; refuses over other records', async () => {
    const database = await fresh('baseline');
    await database.query('create table users (id int primary key); create table posts (id int primary key)');
    const { run } = await project(database);
    const catalog = await catalogSnapshot((text) => database.query(text));
    const dry = await run(['baseline', '--to', '002_posts', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Dry run: would record 2 migrations up to "002_posts"');
    expect(await catalogSnapshot((text) => database.query(text))).toBe(catalog);

    const done = await run(['baseline', '--to', '002_posts']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('Baselined: 2 migrations up to "002_posts" recorded as applied; nothing ran.');
    expect(done.stdout).toContain('1 migration(s) pending');
    expect((await run(['baseline', '--to', '002_posts'])).stdout).toContain('Nothing to do');
    const up = await run(['up', '--json']);
    expect(up.json().results.map((r: { name: string }) => r.name)).toEqual(['003_tags']);
    const other = await run(['baseline', '--to', '001_users']);
    expect(other.code).toBe(4);
    expect(other.stdout).toContain("mig's store already has 3 record(s)");
    expect((await run(['baseline', '--to', '009_nope'])).code).toBe(2);
  });

  it('repair accepts an intentional edit (dry run first, --yes when not a terminal) and keeps the old checksum', async () => {
    const database = await fresh('repair');
    const { ws, run } = await project(database);
    expect((await run(['up'])).code).toBe(0);
    await ws.write('002_posts.sql', `-- a comment added after it was applied\n${MIGRATIONS['002_posts.sql']}`);
    expect((await run(['verify'])).code).toBe(4);

    const catalog = await catalogSnapshot((text) => database.query(text));
    const dry = await run(['repair', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Dry run: would change 1 record(s).');
    expect(dry.stdout).toContain('002_posts: checksum');
    const unconfirmed = await run(['repair']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stdout).toContain('confirm it from a terminal, or pass --yes');
    expect(await catalogSnapshot((text) => database.query(text))).toBe(catalog);

    const repaired = await run(['repair', '--yes']);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain('Repaired: 1 record(s).');
    expect((await run(['verify'])).code).toBe(0);
    const status = (await run(['status', '--json'])).json();
    expect(status.applied[1]).toMatchObject({ name: '002_posts', repairs: [{ checksum: expect.any(String) }] });
    expect((await run(['repair', '--yes'])).stdout).toContain('Nothing to repair');
  });

  it('repair --forget removes the record of a deleted file, one name at a time, and nothing else', async () => {
    const database = await fresh('repair_forget');
    const { ws, run } = await project(database);
    expect((await run(['up'])).code).toBe(0);
    await rm(join(ws.migrations, '003_tags.sql'));
    expect((await run(['verify'])).code).toBe(4);
    expect((await run(['repair', '--yes'])).stdout).toContain('Nothing to repair'); // a missing file is not repaired
    const live = await run(['repair', '--yes', '--forget', '002_posts']);
    expect(live.code).toBe(4);
    expect(live.stdout).toContain('its file is among the local migrations');
    const forgot = await run(['repair', '--yes', '--forget', '003_tags']);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout).toContain('003_tags: record removed');
    expect((await run(['verify'])).code).toBe(0);
    expect((await database.query('select name from mig_migrations order by id')).rows).toEqual([
      { name: '001_users' },
      { name: '002_posts' },
    ]);
  });
});

async function catalogTables(database: TestDatabase): Promise<string[]> {
  const { rows } = await database.query<{ t: string }>(
    `select table_name as t from information_schema.tables where table_schema not in ('pg_catalog', 'information_schema')`,
  );
  return rows.map((r) => r.t);
}
