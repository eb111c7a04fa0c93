import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createListSource, type MigrationBundle, renderBundleModule } from '@mig/kysely-adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { type CreateDatabaseOptions, createDatabase, type MigDatabase } from '../src/index.js';

// createDatabase({ migrations }) takes the default export of the module `mig bundle` wrote, as a bundled
// service passes it: no migrations folder is read, and the database sees the folder's own migrations.

const MIGRATIONS = {
  '001_todos.sql': 'create table todos (id serial primary key, title text);\n',
  '002_index.sql': '-- mig:no-transaction\ncreate index concurrently todos_title on todos (title);\n',
  '003_seed.js':
    "export async function up(db) {\n  await db.insertInto('todos').values({ title: 'seeded' }).execute();\n}\n",
};

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ pg: TestDatabase; dir: string; bundle: MigrationBundle }> {
  const pg = await createTestDatabase('service_bundle');
  const dir = await mkdtemp(join(tmpdir(), 'mig-service-bundle-'));
  cleanups.push(
    () => pg.drop(),
    () => rm(dir, { recursive: true, force: true }),
  );
  await mkdir(join(dir, 'migrations'));
  for (const [file, text] of Object.entries(MIGRATIONS)) await writeFile(join(dir, 'migrations', file), text);
  const outFile = join(dir, 'src', 'migrations.bundle.js');
  await mkdir(join(dir, 'src'));
  await writeFile(outFile, (await renderBundleModule({ folder: join(dir, 'migrations'), outFile })).text);
  const bundle = ((await import(pathToFileURL(outFile).href)) as { default: MigrationBundle }).default;
  return { pg, dir, bundle };
}

function open(pg: TestDatabase, cwd: string, migrations: CreateDatabaseOptions['migrations']): MigDatabase<any> {
  const database = createDatabase<any>({
    cwd,
    env: { DATABASE_URL: pg.url, NODE_ENV: 'test' },
    logger: quiet,
    migrations,
  });
  cleanups.push(() => database.close());
  return database;
}

describe('createDatabase with a bundle', () => {
  it('migrates from the bundle alone, with no migrations folder at all', async () => {
    const { pg, dir, bundle } = await setup();
    // Nothing may come from the folder: it is gone before the first use.
    await rm(join(dir, 'migrations'), { recursive: true });
    const db = await open(pg, dir, bundle).ensureInitialized();
    expect(await db.selectFrom('todos').select('title').execute()).toEqual([{ title: 'seeded' }]);
    const records = await pg.query<{ name: string }>('select name from mig_migrations order by name');
    expect(records.rows.map((r) => r.name)).toEqual(['001_todos', '002_index', '003_seed']);
  });

  it('a database the folder migrated is up to date for the bundle: nothing runs again', async () => {
    const { pg, dir, bundle } = await setup();
    const fromFolder = open(pg, dir, undefined);
    await fromFolder.ensureInitialized();
    await fromFolder.close();
    const fromBundle = open(pg, dir, bundle);
    await fromBundle.ensureInitialized();
    expect(fromBundle.state()).toMatchObject({ phase: 'ready' });
    const seeded = await pg.query('select 1 from todos');
    expect(seeded.rowCount).toBe(1);
  });

  it('still takes a migration source', async () => {
    const { pg, dir } = await setup();
    const list = createListSource([{ name: '001_list', sql: 'create table listed (id int);' }]);
    await open(pg, dir, list).ensureInitialized();
    expect((await pg.query("select 1 from information_schema.tables where table_name = 'listed'")).rowCount).toBe(1);
  });

  it('refuses something that is not a bundle at the first use, saying what to pass', async () => {
    const { pg, dir } = await setup();
    const database = open(pg, dir, { hello: 1 } as unknown as MigrationBundle);
    await expect(database.ensureInitialized()).rejects.toThrow(
      /not a bundle written by `mig bundle` \(got an object with hello\)/,
    );
  });
});
