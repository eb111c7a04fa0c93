import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMigrator } from '@mig/core';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/postgres.js';
import { createFolderSource, createKyselyAdapter, type MigrationDb } from '../../src/index.js';
import { createTestSqlite, type TestSqlite } from '../support/sqlite.js';

// A file wrapped whole in its own BEGIN; … COMMIT; (as Prisma writes enum changes) runs as written, under the
// lease lock, on a real PostgreSQL and a real SQLite file; when it fails inside that transaction, the
// transaction is rolled back, the connection is handed back clean and the lease released, so the next run
// goes ahead at once.

const OWN_OK =
  '-- Prisma wraps enum changes\nBEGIN;\ncreate table a (id integer primary key);\ninsert into a values (1);\nCOMMIT;\n';
const OWN_FAILS =
  'BEGIN;\ncreate table b (id integer primary key);\ninsert into b values (1);\ninsert into missing values (1);\nCOMMIT;\n';
const OWN_FIXED = 'BEGIN;\ncreate table b (id integer primary key);\ninsert into b values (1);\nCOMMIT;\n';

interface Target {
  readonly db: MigrationDb;
  tables(): Promise<string[]>;
  close(): Promise<void>;
}

const TARGETS: Record<string, () => Promise<Target>> = {
  PostgreSQL: async () => {
    const pg: TestDatabase = await createTestDatabase('own_tx');
    return {
      db: pg.db,
      async tables() {
        const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = 'public' and table_name not like 'mig_%' order by 1`.execute(pg.db);
        return rows.map((r) => r.name);
      },
      close: () => pg.drop(),
    };
  },
  SQLite: async () => {
    const lite: TestSqlite = await createTestSqlite('mig-own-tx-');
    return { db: lite.db, tables: () => lite.tables('[^ms]*'), close: () => lite.close() };
  },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe.each(Object.keys(TARGETS))('a file with its own BEGIN … COMMIT on %s', (label) => {
  async function setup() {
    const target = await (TARGETS[label] as () => Promise<Target>)();
    const dir = await mkdtemp(join(tmpdir(), 'mig-own-tx-'));
    cleanups.push(async () => {
      await target.close();
      await rm(dir, { recursive: true, force: true });
    });
    const adapter = createKyselyAdapter({ db: target.db });
    const migrator = () =>
      createMigrator({
        source: createFolderSource(dir, { splitter: adapter.splitter }),
        store: adapter.store,
        lock: adapter.createLock({ strategy: 'lease', leaseTtlMs: 60_000 }),
        lockTimeoutMs: 2_000,
      });
    return { target, dir, migrator };
  }

  it('runs as written and is recorded after its commit', async () => {
    const { target, dir, migrator } = await setup();
    await writeFile(join(dir, '001_enum.sql'), OWN_OK);
    const source = createFolderSource(dir);
    expect((await source.load())[0]?.transaction).toBe('own');
    const result = await migrator().up();
    expect(result.error?.message).toBeUndefined();
    expect(await target.tables()).toEqual(['a']);
    const { rows } = await sql<{ name: string }>`select name from mig_migrations`.execute(target.db);
    expect(rows.map((r) => r.name)).toEqual(['001_enum']);
  });

  it('is rolled back when a statement fails, says so, and the lease is free for the next run at once', async () => {
    const { target, dir, migrator } = await setup();
    await writeFile(join(dir, '001_enum.sql'), OWN_OK);
    await writeFile(join(dir, '002_fails.sql'), OWN_FAILS);
    const failed = await migrator().up();
    expect(failed.error?.message).toContain('002_fails');
    expect(failed.error?.message).toContain('rolled back');
    expect(failed.error?.message).not.toContain('remain');
    expect(failed.error?.message).toMatch(
      /002_fails\.sql:4, statement 4 of 5 failed: "insert into missing values \(1\);?"/,
    );
    expect(await target.tables()).toEqual(['a']);

    await writeFile(join(dir, '002_fails.sql'), OWN_FIXED);
    // A lock timeout of 2 s against a 60 s lease: this passes only if the failed run released it.
    const again = await migrator().up();
    expect(again.error?.message).toBeUndefined();
    expect(await target.tables()).toEqual(['a', 'b']);
  });
});

describe.each(Object.keys(TARGETS))('a failing SQL migration on %s', (label) => {
  it('names the file, the line and the statement, and outside a transaction what took effect', async () => {
    const target = await (TARGETS[label] as () => Promise<Target>)();
    const dir = await mkdtemp(join(tmpdir(), 'mig-fail-line-'));
    cleanups.push(async () => {
      await target.close();
      await rm(dir, { recursive: true, force: true });
    });
    await writeFile(
      join(dir, '001_outside.sql'),
      '-- mig:no-transaction\ncreate table c (id integer primary key);\n\ncreate table d (id integer primary key);\ninsert into nowhere values (1);\n',
    );
    const adapter = createKyselyAdapter({ db: target.db });
    const source = createFolderSource(dir, { splitter: adapter.splitter });
    const failed = await createMigrator({ source, store: adapter.store }).up();
    const message = failed.error?.message ?? '';
    expect(message).toMatch(/001_outside\.sql:5, statement 3 of 3 failed: "insert into nowhere values \(1\);?"/);
    expect(message).toContain('already in effect: statement 1 (line 2: "create table c');
    expect(message).toContain('statement 2 (line 4: "create table d');
    expect(await target.tables()).toEqual(['c', 'd']);
  });
});

describe.each(Object.keys(TARGETS))("a failing migration in mig's transaction on %s", (label) => {
  it('names the file, the line and the statement, and nothing of it took effect', async () => {
    const target = await (TARGETS[label] as () => Promise<Target>)();
    const dir = await mkdtemp(join(tmpdir(), 'mig-fail-tx-'));
    cleanups.push(async () => {
      await target.close();
      await rm(dir, { recursive: true, force: true });
    });
    await writeFile(
      join(dir, '001_inside.sql'),
      '-- a comment\ncreate table e (id integer primary key);\n\ninsert into\n  nowhere values (1);\ncreate table f (id integer);\n',
    );
    const adapter = createKyselyAdapter({ db: target.db });
    const source = createFolderSource(dir, { splitter: adapter.splitter });
    const failed = await createMigrator({ source, store: adapter.store }).up();
    const message = failed.error?.message ?? '';
    expect(message).toMatch(/001_inside\.sql:[45], statement 2 of 3 failed: "insert into"/);
    expect(message).toContain('rolled back');
    expect(await target.tables()).toEqual([]);
  });
});
