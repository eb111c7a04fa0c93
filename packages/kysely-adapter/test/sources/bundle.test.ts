import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMigrator, type Migration, type MigrationSource } from '@mig/core';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/postgres.js';
import {
  createBundleSource,
  createFolderSource,
  createKyselyAdapter,
  isMigrationBundle,
  type MigrationBundle,
  type MigrationDb,
  renderBundleModule,
} from '../../src/index.js';

// A bundle written by renderBundleModule (what `mig bundle` writes) is the folder's migrations to a database:
// the same names, order, checksums and per-migration settings, so a database migrated from one shows no drift
// when served from the other, both ways, on a real PostgreSQL.

/** Text a string literal must survive: quotes, backslashes, a template's `${`, line separators, CRLF, a BOM. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a template's placeholder, as text a bundle must keep.
const AWKWARD = "\uFEFFcreate table awkward (\r\n  note text default 'it''s `x` ${y} \\ \"q\" \u2028 \u00e9'\r\n);\r\n";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A mig folder with every kind of migration: SQL with a down part and a timeout, code in .js and .ts, no transaction. */
async function migrationsFolder(): Promise<string> {
  const dir = join(await tempDir('mig-bundle-'), 'migrations');
  await mkdir(dir);
  await writeFile(
    join(dir, '001_todos.sql'),
    '-- mig:statement-timeout 30s\ncreate table todos (id serial primary key, title text not null);\n-- mig:down\ndrop table todos;\n',
  );
  await writeFile(join(dir, '002_awkward.sql'), AWKWARD);
  await writeFile(
    join(dir, '003_done.js'),
    "export async function up(db) {\n  await db.schema.alterTable('todos').addColumn('done', 'boolean').execute();\n}\n",
  );
  await writeFile(
    join(dir, '004_open_index.sql'),
    '-- mig:no-transaction\ncreate index concurrently todos_open on todos (done);\n',
  );
  await writeFile(
    join(dir, '005_seed.ts'),
    [
      'export const transactional = false;',
      'export async function up(db: any): Promise<void> {',
      "  await db.insertInto('todos').values({ title: 'from code' }).execute();",
      '}',
      '',
    ].join('\n'),
  );
  return dir;
}

async function writeBundle(folder: string, name: string): Promise<{ bundle: MigrationBundle; text: string }> {
  const outFile = join(folder, '..', 'src', name);
  const { text } = await renderBundleModule({ folder, outFile });
  await mkdir(join(folder, '..', 'src'), { recursive: true });
  await writeFile(outFile, text);
  const loaded = (await import(pathToFileURL(outFile).href)) as { default: MigrationBundle };
  return { bundle: loaded.default, text };
}

function migratorOn(pg: TestDatabase, source: MigrationSource<MigrationDb>) {
  const adapter = createKyselyAdapter({ db: pg.db });
  return createMigrator({ source, store: adapter.store, lock: adapter.createLock({ strategy: 'advisory' }) });
}

async function settings(migrations: readonly Migration<MigrationDb>[]) {
  return Promise.all(
    migrations.map(async (m) => {
      const loaded = await m.load();
      return {
        name: m.name,
        checksum: m.checksum,
        transaction: m.transaction,
        transactional: loaded.transactional,
        statementTimeoutMs: loaded.statementTimeoutMs,
        down: loaded.down !== undefined,
      };
    }),
  );
}

describe('a bundle of a migrations folder', () => {
  it.each(['migrations.bundle.ts', 'migrations.bundle.js'])(
    'as %s holds the folder: names, order, checksums and per-migration settings',
    async (name) => {
      const folder = await migrationsFolder();
      const { bundle, text } = await writeBundle(folder, name);
      expect(isMigrationBundle(bundle)).toBe(true);
      // Code is imported statically, by a path relative to the module; SQL is inlined.
      expect(text).toMatch(/^import \* as migration2 from "\.\.\/migrations\/003_done\.js";$/m);
      expect(text).toMatch(
        name.endsWith('.ts')
          ? /^import \* as migration4 from "\.\.\/migrations\/005_seed\.js";$/m
          : /^import \* as migration4 from "\.\.\/migrations\/005_seed\.ts";$/m,
      );
      expect(text).not.toMatch(/^import .*\.sql/m);
      const fromFolder = await settings(await createFolderSource(folder).load());
      const fromBundle = await settings(await createBundleSource(bundle).load());
      expect(fromBundle).toEqual(fromFolder);
      expect(fromBundle.map((m) => [m.name, m.transactional, m.statementTimeoutMs])).toEqual([
        ['001_todos', true, 30_000],
        ['002_awkward', true, undefined],
        ['003_done', true, undefined],
        ['004_open_index', false, undefined],
        ['005_seed', false, undefined],
      ]);
      // The awkward text arrives as written, byte for byte.
      expect(bundle.migrations[1]).toMatchObject({ name: '002_awkward', sql: AWKWARD });
    },
  );

  it('a database migrated from the folder shows no drift from the bundle, and the other way round', async () => {
    const folder = await migrationsFolder();
    const { bundle } = await writeBundle(folder, 'migrations.bundle.ts');
    const fromFolder = await createTestDatabase('bundle_folder');
    const fromBundle = await createTestDatabase('bundle_bundle');
    cleanups.push(
      () => fromFolder.drop(),
      () => fromBundle.drop(),
    );

    const applied = await migratorOn(fromFolder, createFolderSource(folder)).up();
    expect(applied.error?.message).toBeUndefined();
    const seen = await migratorOn(fromFolder, createBundleSource(bundle)).status();
    expect({ state: seen.state, pending: seen.pending, problems: seen.problems }).toEqual({
      state: 'up-to-date',
      pending: [],
      problems: [],
    });

    const bundled = await migratorOn(fromBundle, createBundleSource(bundle)).up();
    expect(bundled.error?.message).toBeUndefined();
    expect(bundled.results.map((r) => r.name)).toEqual([
      '001_todos',
      '002_awkward',
      '003_done',
      '004_open_index',
      '005_seed',
    ]);
    const back = await migratorOn(fromBundle, createFolderSource(folder)).status();
    expect({ state: back.state, pending: back.pending, problems: back.problems }).toEqual({
      state: 'up-to-date',
      pending: [],
      problems: [],
    });
    // It ran: the index built outside a transaction, the row from the code migration.
    const { rows } = await sql<{ title: string }>`select title from todos`.execute(fromBundle.db);
    expect(rows).toEqual([{ title: 'from code' }]);
    const index = await fromBundle.query("select indexname from pg_indexes where indexname = 'todos_open'");
    expect(index.rowCount).toBe(1);

    // A migration edited after the bundle was written is drift to the bundle's database, as it is to the folder's.
    await writeFile(join(folder, '002_awkward.sql'), `${AWKWARD}-- edited\n`);
    const drifted = await migratorOn(fromBundle, createFolderSource(folder)).status();
    expect(drifted.problems.map((p) => [p.kind, p.name])).toEqual([['changed', '002_awkward']]);
  });

  it('accepts the module namespace as well as its default export', async () => {
    const folder = await migrationsFolder();
    const { bundle } = await writeBundle(folder, 'migrations.bundle.js');
    const names = (await createBundleSource({ default: bundle }).load()).map((m) => m.name);
    expect(names).toHaveLength(5);
  });
});

describe('a bundle that cannot be used', () => {
  it('is not a bundle: says what to pass', async () => {
    const source = createBundleSource({ migrations: [] } as unknown as MigrationBundle);
    await expect(source.load()).rejects.toThrow(
      /not a bundle written by `mig bundle` \(got an object with migrations\)\. Pass the default export/,
    );
  });

  it('was written by a newer mig: says which, and what to do', async () => {
    const folder = await migrationsFolder();
    const { bundle } = await writeBundle(folder, 'migrations.bundle.js');
    const newer = { ...bundle, version: 2, mig: '9.0.0' };
    await expect(createBundleSource(newer).load()).rejects.toThrow(
      /written by a newer mig \(9\.0\.0, bundle format 2\); this one \(\d+\.\d+\.\d+\) reads format 1/,
    );
  });

  it('is damaged: an entry with neither SQL nor a module', async () => {
    const bundle = {
      format: 'mig-bundle',
      version: 1,
      layout: 'mig',
      ordered: false,
      migrations: [{ name: '001_a', file: '001_a.sql' }],
    } as unknown as MigrationBundle;
    await expect(createBundleSource(bundle).load()).rejects.toThrow(
      /"001_a" .* has neither SQL text nor a module with a checksum\. Write it again with `mig bundle --out FILE`/,
    );
  });
});

describe('writing a bundle', () => {
  it('refuses an out file inside the migrations folder, or of another kind than a module', async () => {
    const folder = await migrationsFolder();
    await expect(renderBundleModule({ folder, outFile: join(folder, 'bundle.js') })).rejects.toThrow(
      /inside the migrations folder .* where it would be read as a migration/,
    );
    await expect(renderBundleModule({ folder, outFile: join(folder, '..', 'bundle.json') })).rejects.toThrow(
      /must be a module ending in \.js, \.mjs, \.ts or \.mts \(found "\.json"\)/,
    );
  });

  it('says why a folder cannot be bundled: missing, or a layout with problems', async () => {
    const dir = await tempDir('mig-bundle-bad-');
    await expect(renderBundleModule({ folder: join(dir, 'nowhere'), outFile: join(dir, 'b.js') })).rejects.toThrow(
      /Cannot bundle the migrations: The migrations folder .*nowhere does not exist/,
    );
    await mkdir(join(dir, 'goose'));
    await writeFile(join(dir, 'goose', '001_a.sql'), '-- +goose Up\ncreate table a (id int);\n');
    await writeFile(join(dir, 'goose', '002_b.go'), 'package migrations\n');
    await expect(renderBundleModule({ folder: join(dir, 'goose'), outFile: join(dir, 'b.js') })).rejects.toThrow(
      /Cannot bundle the migrations: .*002_b\.go is a code migration written for goose, which mig cannot run/s,
    );
  });
});

describe("a bundle of another tool's folder", () => {
  const table = (name: string) => `create table ${name} (id integer primary key);\n`;
  // Orders that are not name order, separate down files, annotated parts and transaction modes.
  const folders: Record<string, Record<string, string>> = {
    drizzle: {
      'meta/_journal.json': JSON.stringify({ entries: [{ tag: '0001_b' }, { tag: '0000_a' }] }),
      '0000_a.sql': table('a'),
      '0001_b.sql': table('b'),
    },
    'golang-migrate': {
      '9_a.up.sql': table('a'),
      '9_a.down.sql': 'drop table a;\n',
      '10_b.up.sql': table('b'),
    },
    goose: {
      '00010_c.sql': `-- +goose NO TRANSACTION\n-- +goose Up\n${table('c')}-- +goose Down\ndrop table c;\n`,
      '00002_b.sql': `-- +goose Up\n${table('b')}-- +goose Down\ndrop table b;\n`,
    },
  };

  it.each(Object.keys(folders))('%s: the same order, checksums, downs and transaction modes', async (layout) => {
    const folder = join(await tempDir('mig-bundle-layout-'), 'migrations');
    for (const [file, text] of Object.entries(folders[layout] ?? {})) {
      await mkdir(join(folder, file, '..'), { recursive: true });
      await writeFile(join(folder, file), text);
    }
    const { bundle } = await writeBundle(folder, 'migrations.bundle.js');
    expect({ layout: bundle.layout, ordered: bundle.ordered }).toEqual({ layout, ordered: true });
    const fromFolder = await settings(await createFolderSource(folder).load());
    const fromBundle = createBundleSource(bundle);
    expect(await settings(await fromBundle.load())).toEqual(fromFolder);
    expect(fromBundle.layout).toBe(layout);
  });
});
