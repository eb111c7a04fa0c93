import { promises as fs } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { join } from 'node:path';
import { isMigError, MigErrorCode } from '@mig/core';
import { FileMigrationProvider, Kysely, Migrator, PostgresDialect } from 'kysely';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestPGlite } from '../../../../test/support/pglite.js';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/postgres.js';
import { detectForeignHistories, readForeignHistory } from '../../src/index.js';
import {
  copyToolFixture,
  emptyToolFolder,
  FOREIGN_FIXTURE_NAMES,
  FOREIGN_FIXTURE_TABLES,
  FOREIGN_FIXTURES,
  type ForeignTool,
  migrateWithKysely,
  migrateWithTool,
  NPM_TOOLS,
  snapshotTables,
  toolTables,
} from '../support/foreign-tools.js';

const databases: TestDatabase[] = [];
const disposers: (() => Promise<void>)[] = [];

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase('foreign');
  databases.push(database);
  return database;
}

afterEach(async () => {
  await Promise.all(disposers.splice(0).map((dispose) => dispose()));
});
afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()));
});

/** Options each tool's reader needs for the fixtures (Drizzle: its folder). */
function readOptions(tool: ForeignTool, dir = FOREIGN_FIXTURES[tool]) {
  return tool === 'drizzle' ? { migrationsDir: dir } : {};
}

const EXPECTED_TABLE: Record<ForeignTool, string> = {
  kysely: 'public.kysely_migration',
  knex: 'public.knex_migrations',
  'node-pg-migrate': 'public.pgmigrations',
  drizzle: 'drizzle.__drizzle_migrations',
};

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

describe.each(NPM_TOOLS)('a database migrated by %s', (tool) => {
  it('reads exactly the three applied migrations, in order, and writes nothing', async () => {
    const database = await freshDatabase();
    await migrateWithTool[tool](database.url);
    const { rows: created } = await database.query<{ name: string }>(
      'select table_name as name from information_schema.tables where table_schema = $1 and table_name = any($2)',
      ['public', FOREIGN_FIXTURE_TABLES[tool]],
    );
    expect(created.map((r) => r.name).sort()).toEqual([...FOREIGN_FIXTURE_TABLES[tool]].sort());

    const everyToolsTables = NPM_TOOLS.flatMap((t) => toolTables(t));
    const before = await snapshotTables(database.db, everyToolsTables);
    expect(before[toolTables(tool)[0]!]).toHaveLength(3);

    const history = await readForeignHistory(database.db, tool, readOptions(tool));
    expect(history).toEqual({
      tool,
      table: EXPECTED_TABLE[tool],
      applied: FOREIGN_FIXTURE_NAMES[tool],
      runnable: tool === 'kysely',
      unmatched: [],
    });
    expect(await detectForeignHistories(database.db)).toEqual([{ tool, table: EXPECTED_TABLE[tool], applied: 3 }]);

    // The other tools' tables do not exist; reading them says so and creates nothing.
    for (const other of NPM_TOOLS.filter((t) => t !== tool)) {
      expect(await readForeignHistory(database.db, other, readOptions(other))).toBeNull();
    }
    expect(await snapshotTables(database.db, everyToolsTables)).toEqual(before);
  });
});

describe('detectForeignHistories', () => {
  it('finds nothing on a fresh database', async () => {
    const database = await freshDatabase();
    expect(await detectForeignHistories(database.db)).toEqual([]);
    for (const tool of NPM_TOOLS) {
      expect(await readForeignHistory(database.db, tool, readOptions(tool))).toBeNull();
    }
  });

  it('finds nothing for tools whose tables exist but are empty (the tool ran with no migrations)', async () => {
    const database = await freshDatabase();
    for (const tool of NPM_TOOLS) {
      const empty = await emptyToolFolder(tool);
      disposers.push(empty.dispose);
      await migrateWithTool[tool](database.url, empty.dir);
      const history = await readForeignHistory(database.db, tool, readOptions(tool, empty.dir));
      expect(history).toMatchObject({ tool, table: EXPECTED_TABLE[tool], applied: [], unmatched: [] });
    }
    expect(await detectForeignHistories(database.db)).toEqual([]);
  });

  it('finds every tool that migrated the same database, in the order of NPM_TOOLS', async () => {
    const database = await freshDatabase();
    await migrateWithTool.drizzle(database.url);
    await migrateWithTool.kysely(database.url);
    expect(await detectForeignHistories(database.db)).toEqual([
      { tool: 'kysely', table: 'public.kysely_migration', applied: 3 },
      { tool: 'drizzle', table: 'drizzle.__drizzle_migrations', applied: 3 },
    ]);
  });
});

describe('renamed history tables', () => {
  it("reads Kysely's history under a custom table and schema, and only there", async () => {
    const database = await freshDatabase();
    const custom = { table: 'app_migrations', schema: 'history' };
    await migrateWithKysely(database.url, FOREIGN_FIXTURES.kysely, custom);
    const tables = toolTables('kysely', custom);
    const before = await snapshotTables(database.db, tables);

    expect(await readForeignHistory(database.db, 'kysely')).toBeNull();
    expect(await readForeignHistory(database.db, 'kysely', { table: 'app_migrations' })).toBeNull();
    expect(await readForeignHistory(database.db, 'kysely', custom)).toEqual({
      tool: 'kysely',
      table: 'history.app_migrations',
      applied: FOREIGN_FIXTURE_NAMES.kysely,
      runnable: true,
      unmatched: [],
    });
    // Detection looks at the default tables only.
    expect(await detectForeignHistories(database.db)).toEqual([]);
    expect(await snapshotTables(database.db, tables)).toEqual(before);
  });

  it.each(NPM_TOOLS.filter((t) => t !== 'kysely'))('reads %s under a custom table and schema', async (tool) => {
    const database = await freshDatabase();
    const custom = { table: 'Tool_History', schema: 'tool_history' };
    await migrateWithTool[tool](database.url, FOREIGN_FIXTURES[tool], custom);
    expect(await readForeignHistory(database.db, tool, readOptions(tool))).toBeNull();
    const history = await readForeignHistory(database.db, tool, { ...custom, ...readOptions(tool) });
    expect(history).toMatchObject({ table: 'tool_history.Tool_History', applied: FOREIGN_FIXTURE_NAMES[tool] });
  });

  it('finds an unqualified table on the search_path, as Kysely and knex do', async () => {
    const database = await freshDatabase();
    await database.query('create schema app');
    await database.query(`alter database "${database.name}" set search_path = app, public`);
    await migrateWithTool.knex(database.url);
    // A new session picks up the database's search_path.
    const pool = database.pool(1);
    disposers.push(() => pool.end());
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    const history = await readForeignHistory(db, 'knex');
    expect(history).toMatchObject({ table: 'app.knex_migrations', applied: FOREIGN_FIXTURE_NAMES.knex });
    expect(await detectForeignHistories(db)).toEqual([{ tool: 'knex', table: 'app.knex_migrations', applied: 3 }]);
  });
});

describe('order', () => {
  it("follows Kysely's timestamps, not the names, when a file was applied out of order", async () => {
    const database = await freshDatabase();
    const folder = await copyToolFixture('kysely');
    disposers.push(folder.dispose);
    await migrateWithKysely(database.url, folder.dir);
    await writeFile(
      join(folder.dir, '20231231000000_create_kysely_tags.mjs'),
      "export async function up(db) { await db.schema.createTable('kysely_tags').addColumn('id', 'serial').execute(); }\n",
    );
    await migrateWithKysely(database.url, folder.dir, { allowUnordered: true });
    const history = await readForeignHistory(database.db, 'kysely');
    expect(history?.applied).toEqual([...FOREIGN_FIXTURE_NAMES.kysely, '20231231000000_create_kysely_tags']);
  });
});

describe('Drizzle', () => {
  it('needs migrationsDir, and says so before reading anything', async () => {
    const database = await freshDatabase();
    const error = await rejection(readForeignHistory(database.db, 'drizzle'));
    expect(isMigError(error, MigErrorCode.InvalidOption)).toBe(true);
    expect(error.message).toContain('migrationsDir');
    expect(error.message).toContain('meta/_journal.json');
  });

  it('names a folder without a journal', async () => {
    const database = await freshDatabase();
    await migrateWithTool.drizzle(database.url);
    const error = await rejection(readForeignHistory(database.db, 'drizzle', { migrationsDir: FOREIGN_FIXTURES.knex }));
    expect(isMigError(error, MigErrorCode.InvalidOption)).toBe(true);
    expect(error.message).toContain(join(FOREIGN_FIXTURES.knex, 'meta', '_journal.json'));
  });

  it('puts a row that matches no journal entry in unmatched, and names the rest', async () => {
    const database = await freshDatabase();
    await migrateWithTool.drizzle(database.url);
    await database.query(
      `insert into drizzle.__drizzle_migrations (hash, created_at) values ('${'ab'.repeat(32)}', 1600000000000)`,
    );
    const history = await readForeignHistory(database.db, 'drizzle', readOptions('drizzle'));
    expect(history?.applied).toEqual(FOREIGN_FIXTURE_NAMES.drizzle);
    expect(history?.unmatched).toHaveLength(1);
    expect(history?.unmatched[0]).toMatch(
      /^Row id 4 of drizzle\.__drizzle_migrations \(created_at 1600000000000, hash abababababab\) matches no entry of .*_journal\.json/,
    );
  });

  it('matches a row by its hash when the journal entry changed its "when"', async () => {
    const database = await freshDatabase();
    await migrateWithTool.drizzle(database.url);
    const folder = await copyToolFixture('drizzle');
    disposers.push(folder.dispose);
    const journalPath = join(folder.dir, 'meta', '_journal.json');
    const journal = JSON.parse(await readFile(journalPath, 'utf8'));
    journal.entries[1].when += 1;
    await writeFile(journalPath, JSON.stringify(journal));
    const history = await readForeignHistory(database.db, 'drizzle', { migrationsDir: folder.dir });
    expect(history).toMatchObject({ applied: FOREIGN_FIXTURE_NAMES.drizzle, unmatched: [] });
  });
});

describe('options', () => {
  it('rejects an unknown tool and bad identifiers before any SQL', async () => {
    const database = await freshDatabase();
    for (const [tool, options, option] of [
      ['liquibase', {}, 'tool'],
      ['knex', { table: 'knex_migrations; drop table x' }, 'table'],
      ['kysely', { schema: 'a"b' }, 'schema'],
      ['node-pg-migrate', { table: '' }, 'table'],
    ] as const) {
      const error = await rejection(readForeignHistory(database.db, tool as ForeignTool, options));
      expect(isMigError(error, MigErrorCode.InvalidOption)).toBe(true);
      expect((error as { option?: string }).option).toBe(option);
    }
  });

  it('says which table it failed to read, and why', async () => {
    const database = await freshDatabase();
    await database.query('create table knex_migrations (something int)');
    const error = await rejection(readForeignHistory(database.db, 'knex'));
    expect(isMigError(error, MigErrorCode.Store)).toBe(true);
    expect(error.message).toContain("knex's migration history in public.knex_migrations");
    expect(error.message).toContain('column "id" does not exist');
  });
});

describe('PGlite', () => {
  it("reads and detects Kysely's history there too", async () => {
    const pglite = await createTestPGlite();
    disposers.push(() => pglite.close());
    const migrator = new Migrator({
      db: pglite.db,
      provider: new FileMigrationProvider({ fs, path, migrationFolder: FOREIGN_FIXTURES.kysely }),
    });
    const { error } = await migrator.migrateToLatest();
    expect(error).toBeUndefined();
    expect(await readForeignHistory(pglite.db, 'kysely')).toMatchObject({
      table: 'public.kysely_migration',
      applied: FOREIGN_FIXTURE_NAMES.kysely,
    });
    expect(await detectForeignHistories(pglite.db)).toEqual([
      { tool: 'kysely', table: 'public.kysely_migration', applied: 3 },
    ]);
  });
});

describe('snapshotTables (the helper the "untouched" checks rely on)', () => {
  it('notices an update that writes the same values', async () => {
    const database = await freshDatabase();
    await migrateWithTool.knex(database.url);
    const tables = toolTables('knex');
    const before = await snapshotTables(database.db, tables);
    expect(await snapshotTables(database.db, tables)).toEqual(before);
    await database.query('update knex_migrations set name = name where id = 2');
    expect(await snapshotTables(database.db, tables)).not.toEqual(before);
  });
});
