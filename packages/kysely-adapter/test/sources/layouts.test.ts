import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMigrator, type MigrationRunResult } from '@mig/core';
import { type Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/postgres.js';
import { createFolderSource, createKyselyStore, type MigrationDb } from '../../src/index.js';
import { createTestSqlite, type TestSqlite } from '../support/sqlite.js';
import { loadError } from './load-error.js';

// Each layout another tool writes, as small fixtures written for these tests, read by the folder source and
// applied (and reverted where the layout has a down) on a real PostgreSQL and a real SQLite file.

const dirs: string[] = [];
async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mig-layout-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const create = (table: string) => `create table ${table} (id integer primary key, name text);\n`;
const drop = (table: string) => `drop table ${table};\n`;

interface Layout {
  readonly layout: string;
  readonly files: Record<string, string>;
  /** The names, in the order they run. */
  readonly order: readonly string[];
  /** Tables after `up`. */
  readonly tables: readonly string[];
  /** Tables after one `down`, when the layout has downs. */
  readonly afterDown?: readonly string[];
}

const LAYOUTS: readonly Layout[] = [
  {
    layout: 'mig',
    files: { '001_a.sql': `${create('a')}-- mig:down\n${drop('a')}`, '002_b.sql': create('b') },
    order: ['001_a', '002_b'],
    tables: ['a', 'b'],
  },
  {
    layout: 'prisma',
    files: {
      'migration_lock.toml': 'provider = "postgresql"\n',
      '20240101000000_init/migration.sql': `-- CreateTable\n${create('a')}`,
      '20240102000000_more/migration.sql': create('b'),
    },
    order: ['20240101000000_init', '20240102000000_more'],
    tables: ['a', 'b'],
  },
  {
    layout: 'drizzle-folders',
    files: {
      '20240101000000_first/migration.sql': `${create('a')}--> statement-breakpoint\n${create('c')}`,
      '20240101000000_first/snapshot.json': '{}',
      '20240201000000_second/migration.sql': create('b'),
      '20240201000000_second/snapshot.json': '{}',
    },
    order: ['20240101000000_first', '20240201000000_second'],
    tables: ['a', 'b', 'c'],
  },
  {
    // The journal decides: 0001 runs before 0000 here, and 0002 (not listed) is not run.
    layout: 'drizzle',
    files: {
      'meta/_journal.json': JSON.stringify({
        version: '7',
        dialect: 'postgresql',
        entries: [
          { idx: 0, version: '7', when: 1, tag: '0001_b', breakpoints: true },
          { idx: 1, version: '7', when: 2, tag: '0000_a', breakpoints: true },
        ],
      }),
      '0000_a.sql': create('a'),
      '0001_b.sql': create('b'),
      '0002_unlisted.sql': create('a'),
    },
    order: ['0001_b', '0000_a'],
    tables: ['a', 'b'],
  },
  {
    // Version 10 after 9, whatever the names say; the down file never runs forward.
    layout: 'golang-migrate',
    files: {
      '9_a.up.sql': create('a'),
      '9_a.down.sql': drop('a'),
      '10_b.up.sql': create('b'),
      '10_b.down.sql': drop('b'),
      '11_noop.up.sql': '-- nothing to do\n',
      '11_noop.down.sql': '-- nothing to undo\n',
    },
    order: ['9_a', '10_b', '11_noop'],
    tables: ['a', 'b'],
    afterDown: ['a', 'b'],
  },
  {
    layout: 'diesel',
    files: {
      '2024-01-01-000000_a/up.sql': create('a'),
      '2024-01-01-000000_a/down.sql': drop('a'),
      '2024-01-02-000000_b/up.sql': create('b'),
      '2024-01-02-000000_b/down.sql': drop('b'),
    },
    order: ['2024-01-01-000000_a', '2024-01-02-000000_b'],
    tables: ['a', 'b'],
    afterDown: ['a'],
  },
  {
    layout: 'goose',
    files: {
      '00002_b.sql': `-- +goose Up\n-- +goose StatementBegin\n${create('b')}-- +goose StatementEnd\n\n-- +goose Down\n${drop('b')}`,
      '00010_c.sql': `-- +goose NO TRANSACTION\n-- +goose Up\n${create('c')}create index c_name on c (name);\n-- +goose Down\n${drop('c')}`,
      '00001_a.sql': `-- a comment goose does not run\n-- +goose Up\n${create('a')}\n-- +goose Down\n${drop('a')}`,
    },
    order: ['00001_a', '00002_b', '00010_c'],
    tables: ['a', 'b', 'c'],
    afterDown: ['a', 'b'],
  },
  {
    layout: 'dbmate',
    files: {
      '20240101000000_a.sql': `-- migrate:up\n${create('a')}\n-- migrate:down\n${drop('a')}`,
      '20240102000000_b.sql': `-- migrate:up transaction:false\n${create('b')}\n-- migrate:down\n-- nothing\n`,
    },
    order: ['20240101000000_a', '20240102000000_b'],
    tables: ['a', 'b'],
    afterDown: ['a', 'b'],
  },
  {
    // By version: 1.9.4 before 1.10.0 (name order says otherwise); U1.10.0 undoes V1.10.0.
    layout: 'flyway',
    files: {
      'V1__init.sql': create('a'),
      'V1.10.0__later.sql': create('c'),
      'U1.10.0__later.sql': drop('c'),
      'V1.9.4__earlier.sql': create('b'),
    },
    order: ['V1__init', 'V1.9.4__earlier', 'V1.10.0__later'],
    tables: ['a', 'b', 'c'],
    afterDown: ['a', 'b'],
  },
];

interface Db {
  readonly label: string;
  readonly db: MigrationDb;
  tables(): Promise<string[]>;
  reset(): Promise<void>;
}

let pg: TestDatabase;
let lite: TestSqlite;
const DBS: Db[] = [];
beforeAll(async () => {
  pg = await createTestDatabase('layouts');
  lite = await createTestSqlite('mig-layouts-');
  DBS.push(
    {
      label: 'PostgreSQL',
      db: pg.db,
      async tables() {
        const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = 'public' and table_name not like 'mig_%' order by 1`.execute(pg.db);
        return rows.map((r) => r.name);
      },
      reset: () => sql`drop schema public cascade; create schema public`.execute(pg.db).then(() => {}),
    },
    {
      label: 'SQLite',
      db: lite.db,
      tables: () => lite.tables('[^ms]*'),
      async reset() {
        for (const t of await lite.tables('[^s]*')) await sql`drop table ${sql.id(t)}`.execute(lite.db);
      },
    },
  );
});
afterAll(async () => {
  await pg?.drop();
  await lite?.close();
});

async function records(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from mig_migrations order by id`.execute(db);
  return rows.map((r) => r.name);
}

function ok(result: MigrationRunResult): MigrationRunResult {
  expect(result.error?.message).toBeUndefined();
  return result;
}

describe.each(LAYOUTS)('the $layout layout', (spec) => {
  it('is detected and read in its own order', async () => {
    const dir = await folder(spec.files);
    const source = createFolderSource(dir);
    const migrations = await source.load();
    expect(source.layout).toBe(spec.layout);
    expect(migrations.map((m) => m.name)).toEqual(spec.order);
  });

  it.each(['PostgreSQL', 'SQLite'])('applies on %s in that order, and reverts with its down', async (label) => {
    const target = DBS.find((d) => d.label === label) as Db;
    await target.reset();
    const dir = await folder(spec.files);
    const migrator = createMigrator({ source: createFolderSource(dir), store: createKyselyStore({ db: target.db }) });
    ok(await migrator.up());
    expect(await target.tables()).toEqual(spec.tables);
    expect(await records(target.db)).toEqual(spec.order);
    if (spec.afterDown) {
      ok(await migrator.down());
      expect(await target.tables()).toEqual(spec.afterDown);
      expect(await records(target.db)).toEqual(spec.order.slice(0, -1));
    }
  });
});

describe('layouts the source refuses', () => {
  it('names both readings of an ambiguous folder', async () => {
    const dir = await folder({ '1_a.up.sql': create('a'), 'V2__b.sql': create('b') });
    const error = await loadError(() => createFolderSource(dir).load());
    expect(error.message).toContain('reads two ways');
    expect(error.message).toContain('golang-migrate');
    expect(error.message).toContain('Flyway');
  });

  it('names a code migration it cannot run, and every problem across the files in one error', async () => {
    const dir = await folder({
      '20240101000000_a/migration.sql': create('a'),
      '20240102000000_b/migration.ts': 'export async function up() {}\n',
      '20240103000000_c/migration.sql': create('c'),
    });
    const prisma = await loadError(() => createFolderSource(dir).load());
    expect(prisma.message).toContain('20240102000000_b/migration.ts is a code migration written for Prisma');

    const goose = await folder({
      '001_a.sql': `-- +goose Up\n${create('a')}`,
      '002_b.sql': create('b'),
      '003_c.sql': create('c'),
      '004_d.go': 'package migrations\n',
    });
    const message = (await loadError(() => createFolderSource(goose).load())).message;
    expect(message).toContain('3 problem(s)');
    expect(message).toMatch(/002_b\.sql has no "-- \+goose Up" line/);
    expect(message).toMatch(/003_c\.sql has no "-- \+goose Up" line/);
    expect(message).toContain('004_d.go is a code migration written for goose');
  });

  it('refuses a .down.sql without its .up.sql instead of running it forward', async () => {
    const dir = await folder({ '1_a.up.sql': create('a'), '2_b.down.sql': drop('b') });
    const error = await loadError(() => createFolderSource(dir).load());
    expect(error.message).toContain('2_b.down.sql has no 2_b.up.sql');
  });

  it('reports a .sql file that a Drizzle journal does not list, and does not run it', async () => {
    const dir = await folder(LAYOUTS.find((l) => l.layout === 'drizzle')?.files ?? {});
    const source = createFolderSource(dir);
    const names = (await source.load()).map((m) => m.name);
    expect(names).not.toContain('0002_unlisted');
    expect(source.notices).toEqual([expect.stringContaining('0002_unlisted.sql is not listed in meta/_journal.json')]);
  });
});
