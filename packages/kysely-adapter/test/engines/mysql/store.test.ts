import { createMigrator, MigErrorCode, type MigrationSource } from '@mig/core';
import { computeChecksum } from '@mig/core/adapter';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mysqlLockName } from '../../../src/engines/mysql/fence.js';
import {
  createFolderSource,
  createKyselyAdapter,
  createListSource,
  type MigrationDb,
  openDatabase,
} from '../../../src/index.js';
import { type MigrationFolder, migrationFolder } from '../../support/migrations.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../../support/mysql.js';

// What MySQL/MariaDB does differently: DDL that commits by itself, said plainly when a migration fails.

let database: TestMysqlDatabase;
let folder: MigrationFolder | undefined;

beforeEach(async () => {
  database = await createTestMysqlDatabase('store');
});
afterEach(async () => {
  await database.drop();
  await folder?.dispose();
  folder = undefined;
});

function migrator(source: MigrationSource<MigrationDb> = createFolderSource(folder?.dir ?? '.')) {
  const adapter = createKyselyAdapter({ db: database.db });
  return { adapter, migrator: createMigrator({ source, store: adapter.store, lock: adapter.createLock() }) };
}

async function recorded(): Promise<string[]> {
  const rows = await database.query<{ name: string }>('select name from mig_migrations order by id');
  return rows.map((r) => r.name);
}

describe('a SQL migration with DDL on MySQL', () => {
  it('names the failed statement and those that took effect, records nothing, and runs again once fixed', async () => {
    folder = await migrationFolder({
      '001_users.sql': 'create table users (id int primary key);\n',
      '002_orders.sql':
        '-- orders and their index\ncreate table orders (id int primary key, user_id int);\n' +
        'insert into users values (1);\n\nalter table orders add constraint fk foreign key (missing) references users (id);\n' +
        'create index orders_user on orders (user_id);\n',
    });
    const first = await migrator().migrator.up();
    expect(first.error?.code).toBe(MigErrorCode.MigrationFailed);
    const message = first.error?.message ?? '';
    expect(message).toContain('Statement 3 of 4 failed (line 5: "alter table orders add constraint fk');
    expect(message).toContain('already in effect: statement 1 (line 2: "create table orders');
    expect(message).toContain('statement 2 (line 3: "insert into users values (1)")');
    expect(message).toContain('It was not recorded');
    expect(await recorded()).toEqual(['001_users']);
    // What took effect is there; what came after the failure is not.
    expect(await database.tables()).toContain('orders');
    expect(await database.query('select id from users')).toEqual([{ id: 1 }]);

    await folder.write(
      '002_orders.sql',
      'create table if not exists orders (id int primary key, user_id int);\n' +
        'insert ignore into users values (1);\n' +
        'alter table orders add constraint fk foreign key (user_id) references users (id);\n' +
        'create index orders_user on orders (user_id);\n',
    );
    const second = await migrator().migrator.up();
    expect(second.error).toBeUndefined();
    expect(await recorded()).toEqual(['001_users', '002_orders']);
  });

  it('runs a migration of data statements only in one transaction with its record', async () => {
    folder = await migrationFolder({
      '001_t.sql': 'create table t (id int primary key);\n',
      '002_rows.sql': 'insert into t values (1);\ninsert into t values (2);\ninsert into t values (1);\n',
    });
    const result = await migrator().migrator.up();
    expect(result.error?.code).toBe(MigErrorCode.MigrationFailed);
    expect(result.error?.message).toContain('Its changes and its record were rolled back');
    expect(result.error?.message).toContain('Statement 3 of 3 failed (line 3: "insert into t values (1)")');
    expect(await database.query('select id from t')).toEqual([]);
    expect(await recorded()).toEqual(['001_t']);
  });

  it('accepts -- mig:no-transaction and runs the migration like any other', async () => {
    folder = await migrationFolder({
      '001_t.sql': '-- mig:no-transaction\ncreate table t (id int);\ninsert into t values (7);\n',
    });
    const result = await migrator().migrator.up();
    expect(result.error).toBeUndefined();
    expect(await database.query('select id from t')).toEqual([{ id: 7 }]);
    const rows = await database.query<{ name: string; transactional: number }>(
      'select name, transactional from mig_migrations',
    );
    expect(rows).toEqual([{ name: '001_t', transactional: 0 }]);
  });

  it('runs a DELIMITER block as the mysql client takes it', async () => {
    // (With -- mig:no-transaction: the source's check for transaction control takes the block's END for one.)
    folder = await migrationFolder({
      '001_loop.sql':
        '-- mig:no-transaction\ncreate table t (id int);\nDELIMITER //\n' +
        'begin not atomic\n  declare i int default 0;\n' +
        '  while i < 3 do\n    set i = i + 1;\n    insert into t values (i);\n  end while;\nend//\n' +
        'DELIMITER ;\n',
    });
    const result = await migrator().migrator.up();
    expect(result.error).toBeUndefined();
    expect(await database.query('select id from t order by id')).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });
});

describe('a code migration on MySQL', () => {
  it('is rolled back whole when it changed data only', async () => {
    await database.query('create table t (id int primary key)');
    const source = createListSource([
      {
        name: '001_rows',
        checksum: computeChecksum('rows'),
        up: async (db) => {
          await sql`insert into t values (1)`.execute(db);
          throw new Error('fails on purpose');
        },
      },
    ]);
    const result = await migrator(source).migrator.up();
    expect(result.error?.message).toContain('Its changes and its record were rolled back');
    expect(await database.query('select id from t')).toEqual([]);
    expect(await recorded()).toEqual([]);
  });

  it('says its DDL may have taken effect when it failed after a statement that commits by itself', async () => {
    const source = createListSource([
      {
        name: '001_ddl',
        checksum: computeChecksum('ddl'),
        up: async (db) => {
          await db.schema.createTable('made').addColumn('id', 'integer').execute();
          throw new Error('fails on purpose');
        },
      },
    ]);
    const result = await migrator(source).migrator.up();
    expect(result.error?.code).toBe(MigErrorCode.MigrationFailed);
    expect(result.error?.message).toContain('that MySQL commits by itself (DDL)');
    expect(result.error?.message).toContain('It was not recorded');
    expect(await database.tables()).toContain('made');
    expect(await recorded()).toEqual([]);
  });

  it('is recorded once it succeeds, also after its DDL committed the transaction', async () => {
    const source = createListSource([
      {
        name: '001_ddl',
        checksum: computeChecksum('ddl'),
        up: async (db) => {
          await db.schema.createTable('made').addColumn('id', 'integer').execute();
          await sql`insert into made values (3)`.execute(db);
        },
      },
    ]);
    const result = await migrator(source).migrator.up();
    expect(result.error).toBeUndefined();
    expect(await recorded()).toEqual(['001_ddl']);
    expect(await database.query('select id from made')).toEqual([{ id: 3 }]);
  });
});

describe('the MySQL locks and the store around them', () => {
  it('names the GET_LOCK holder, and forceReleaseLease ends a lease', async () => {
    const { adapter } = migrator(createListSource([{ name: '001_x', sql: 'select 1' }]));
    expect(await adapter.advisoryHolder()).toBeNull();
    const lease = await adapter.createLock({ strategy: 'advisory' }).acquire({ timeoutMs: 10_000 });
    try {
      const holder = await adapter.advisoryHolder();
      expect(holder?.owner).toMatch(/^MySQL connection \d+ \(root@/);
    } finally {
      await lease.release();
    }
    expect(await adapter.advisoryHolder()).toBeNull();

    expect(await adapter.forceReleaseLease()).toBeNull(); // no tables yet: nothing was ever locked
    await adapter.store.prepare();
    const held = await adapter.createLock({ strategy: 'lease', owner: 'ops-host' }).acquire({ timeoutMs: 10_000 });
    expect((await adapter.leaseHolder())?.owner).toContain('ops-host');
    expect((await adapter.forceReleaseLease())?.owner).toContain('ops-host');
    expect(await adapter.leaseHolder()).toBeNull();
    await held.release();
  });

  it('refuses to apply over the history of another tool (Kysely, knex)', async () => {
    await database.query('create table knex_migrations (id int primary key auto_increment, name varchar(255))');
    await database.query("insert into knex_migrations (name) values ('20240101_users.js')");
    const { adapter, migrator: m } = migrator(createListSource([{ name: '001_x', sql: 'create table x (id int)' }]));
    expect(await adapter.store.foreignHistories()).toEqual([
      { tool: 'knex', table: `${database.name}.knex_migrations`, applied: 1 },
    ]);
    const result = await m.up();
    expect(result.error?.code).toBe(MigErrorCode.ForeignHistory);
    expect(await database.tables()).not.toContain('x');
  });

  it('keeps GET_LOCK names within 64 characters, distinct per database', () => {
    const long = mysqlLockName('d'.repeat(64), 't'.repeat(58));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).not.toBe(mysqlLockName(`${'d'.repeat(63)}e`, 't'.repeat(58)));
    expect(mysqlLockName('shop', 'mig_migrations')).toBe('mig:shop.mig_migrations');
  });

  it('opens mariadb:// URLs through openDatabase', async () => {
    const opened = await openDatabase(database.url.replace(/^mysql:/, 'mariadb:'));
    try {
      expect(opened.engine).toBe('mysql');
      const { rows } = await sql<{ name: string }>`select database() as name`.execute(opened.db);
      expect(rows[0]?.name).toBe(database.name);
    } finally {
      await opened.db.destroy();
    }
  });
});
