import { createMigrator, MigErrorCode, type Migration } from '@mig/core';
import { computeChecksum, EMPTY_HEAD } from '@mig/core/adapter';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKyselyAdapter, createKyselyStore, createListSource, type MigrationDb } from '../../../src/index.js';
import { createTestSqlite, type TestSqlite } from '../../support/sqlite.js';

describe('the SQLite store', () => {
  let file: TestSqlite;
  beforeEach(async () => {
    file = await createTestSqlite();
  });
  afterEach(async () => {
    await file.close();
  });

  function migrator(db = file.db, source = createListSource([{ name: '001_a', sql: 'create table a (id int);' }])) {
    const adapter = createKyselyAdapter({ db });
    return createMigrator({ source, store: adapter.store, lock: adapter.createLock(), lockTimeoutMs: 20_000 });
  }

  it('creates its tables once when several instances prepare together', async () => {
    const stores = Array.from({ length: 6 }, () => createKyselyStore({ db: file.open() }));
    await Promise.all(stores.map((s) => s.prepare()));
    expect(await file.tables('mig_*')).toEqual(['mig_migrations', 'mig_migrations_head', 'mig_migrations_lock']);
    const { rows } = await sql<{ n: number }>`select count(*) as n from mig_migrations_head`.execute(file.db);
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it('runs a SQL migration with a trigger statement by statement, in one transaction with its record', async () => {
    const script = `create table items (id integer primary key, name text, touched integer not null default 0);
create trigger items_touch after update of name on items begin
  update items set touched = touched + 1 where id = new.id;
end;
insert into items (name) values ('a');
update items set name = 'b';`;
    const trigger: Migration<MigrationDb> = {
      name: '001_trigger',
      checksum: computeChecksum(script),
      origin: 'test',
      sql: script,
      load: async () => ({
        transactional: true,
        up: async () => {
          throw new Error('a SQL migration is sent as its script');
        },
        sql: { up: script },
      }),
    };
    const store = createKyselyStore({ db: file.db });
    await store.prepare();
    const head = await store.apply(trigger, { expectedHead: EMPTY_HEAD });
    expect(head.count).toBe(1);
    const { rows } = await sql<{ touched: number }>`select touched from items`.execute(file.db);
    expect(rows).toEqual([{ touched: 1 }]);
  });

  it('runs a -- mig:no-transaction migration (VACUUM) outside a transaction, and records it after', async () => {
    const source = createListSource([
      { name: '001_table', sql: 'create table a (id int);' },
      { name: '002_vacuum', sql: '-- mig:no-transaction\nvacuum;\n' },
    ]);
    const result = await migrator(file.db, source).up();
    expect(result.error).toBeUndefined();
    const records = await createKyselyStore({ db: file.db }).readApplied();
    expect(records.map((r) => [r.name, r.transactional])).toEqual([
      ['001_table', true],
      ['002_vacuum', false],
    ]);
  });

  it('keeps the lease through a migration longer than the lease, and applies what follows', async () => {
    const source = createListSource([
      {
        name: '001_long',
        async up(db) {
          await sql`create table long_one (id int)`.execute(db);
          await new Promise((resolve) => setTimeout(resolve, 1_500));
        },
      },
      { name: '002_after', sql: 'create table after_long (id int);' },
    ]);
    const adapter = createKyselyAdapter({ db: file.db });
    const run = createMigrator({
      source,
      store: adapter.store,
      lock: adapter.createLock({ leaseTtlMs: 400, renewEveryMs: 100 }),
      lockTimeoutMs: 20_000,
    });
    const result = await run.up();
    expect(result.error).toBeUndefined();
    expect(result.results.map((r) => [r.name, r.status])).toEqual([
      ['001_long', 'applied'],
      ['002_after', 'applied'],
    ]);
  });

  it('refuses to apply over the history of Kysely or knex, naming it', async () => {
    await sql`create table kysely_migration (name varchar(255) primary key, timestamp varchar(255) not null)`.execute(
      file.db,
    );
    await sql`insert into kysely_migration values ('001_a', '2024-01-01T00:00:00.000Z')`.execute(file.db);
    await sql`create table knex_migrations (id integer primary key, name text, batch int, migration_time text)`.execute(
      file.db,
    );
    await sql`insert into knex_migrations (name, batch) values ('001_a.js', 1), ('002_b.js', 1)`.execute(file.db);
    expect(await createKyselyStore({ db: file.db }).foreignHistories()).toEqual([
      { tool: 'kysely', table: 'kysely_migration', applied: 1 },
      { tool: 'knex', table: 'knex_migrations', applied: 2 },
    ]);
    const result = await migrator().up();
    expect(result.error?.code).toBe(MigErrorCode.ForeignHistory);
    expect(await file.tables('a')).toEqual([]);
  });
});
