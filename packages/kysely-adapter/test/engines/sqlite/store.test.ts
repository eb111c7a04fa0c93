import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { createMigrator, type Logger, MigErrorCode, type Migration } from '@mig/core';
import { computeChecksum, EMPTY_DIGEST } from '@mig/core/adapter';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteLeasePrimitive } from '../../../src/engines/sqlite/lease.js';
import { splitSqliteStatements as splitWithLines } from '../../../src/engines/sqlite/split.js';
import { createKyselyAdapter, createKyselyStore, createListSource, type MigrationDb } from '../../../src/index.js';

const splitSqliteStatements = (script: string) => splitWithLines(script).map((s) => s.text);

import { createSqliteDialect } from '../../../src/engines/sqlite/index.js';
import { createTestSqlite, type TestSqlite } from '../../support/sqlite.js';

describe('splitSqliteStatements', () => {
  it('splits at semicolons outside quotes, comments and trigger bodies, and drops empty pieces', () => {
    const script = `-- a comment; not a statement
create table a (v text default 'x;y', "odd;name" int, [b;c] int, \`d;e\` int);
/* block; comment */
insert into a (v) values ('it''s; fine');
create temp trigger t after insert on a begin
  update a set v = 'z;' where rowid = new.rowid;
  select case when new.v is null then 1 else 0 end;
end;
;;
select 1`;
    expect(splitSqliteStatements(script)).toEqual([
      `-- a comment; not a statement
create table a (v text default 'x;y', "odd;name" int, [b;c] int, \`d;e\` int);`,
      `/* block; comment */
insert into a (v) values ('it''s; fine');`,
      `create temp trigger t after insert on a begin
  update a set v = 'z;' where rowid = new.rowid;
  select case when new.v is null then 1 else 0 end;
end;`,
      'select 1',
    ]);
    expect(splitSqliteStatements('  -- only a comment\n/* and another */ ;\n')).toEqual([]);
  });
});

describe('the SQLite dialect', () => {
  let file: TestSqlite;
  beforeEach(async () => {
    file = await createTestSqlite();
  });
  afterEach(async () => {
    await file.close();
  });

  it('creates neither the file nor its folder until something is written, then uses WAL', async () => {
    const store = createKyselyStore({ db: file.db });
    expect(await store.readHead()).toBeNull();
    expect(await store.readApplied()).toEqual([]);
    expect(await store.foreignHistories()).toEqual([]);
    expect(existsSync(dirname(file.path))).toBe(false);
    await store.prepare();
    expect(file.exists()).toBe(true);
    const { rows } = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(file.db);
    expect(rows[0]?.journal_mode).toBe('wal');
    // Another instance that opened before the file existed sees it once it does.
    expect(await createKyselyStore({ db: file.open() }).readHead()).toEqual(await store.readHead());
  });

  it('works on :memory:', async () => {
    const db = new Kysely<any>({ dialect: createSqliteDialect({ path: ':memory:' }) });
    try {
      const store = createKyselyStore({ db });
      await store.prepare();
      expect((await store.readHead())?.count).toBe(0);
    } finally {
      await db.destroy();
    }
  });

  it('refuses a negative busy timeout with a sentence saying what to pass', () => {
    expect(() => createSqliteDialect({ path: file.path, busyTimeoutMs: -1 })).toThrow(/0 or more/);
  });
});

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
    const head = await store.apply(trigger, { expectedHead: { count: 0, digest: EMPTY_DIGEST } });
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

describe('the SQLite lease and a dead holder', () => {
  let file: TestSqlite;
  let told: string[];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (_fields, message) => told.push(message ?? ''),
    error: (_fields, message) => told.push(message ?? ''),
  };

  beforeEach(async () => {
    file = await createTestSqlite();
    told = [];
    await createKyselyStore({ db: file.db }).prepare();
  });
  afterEach(async () => {
    await file.close();
  });

  async function leaseHeldBy(owner: string): Promise<void> {
    await sql`
      insert into mig_migrations_lock (key, owner, token, acquired_at, expires_at)
      values ('mig_migrations', ${owner}, 7, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
              strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+600 seconds'))`.execute(file.db);
  }

  function deadPid(): number {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    return Number(child.stdout);
  }

  it('takes over at once, and says so, when the holder is a process on this host that no longer exists', async () => {
    const pid = deadPid();
    await leaseHeldBy(`${hostname()}:${pid}:0123abcd`);
    const lease = createSqliteLeasePrimitive({
      db: file.open(),
      tables: createKyselyStore({ db: file.db }).tables,
      logger,
    });
    const attempt = await lease.tryAcquire(`${hostname()}:${process.pid}:89abcdef`, 30_000);
    expect(attempt.acquired).toBe(true);
    expect(attempt.acquired && attempt.value.token).toBe('8');
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(`process ${pid} on this host no longer exists`);
  });

  it('waits for a holder that is alive, on another host, or not named host:pid', async () => {
    const tables = createKyselyStore({ db: file.db }).tables;
    const lease = createSqliteLeasePrimitive({ db: file.open(), tables, logger });
    const pid = deadPid();
    for (const owner of [
      `${hostname()}:${process.ppid}:0123abcd`,
      `elsewhere.example:${pid}:0123abcd`,
      `api-${pid}:0123abcd`,
    ]) {
      await sql`delete from mig_migrations_lock`.execute(file.db);
      await leaseHeldBy(owner);
      const attempt = await lease.tryAcquire(`${hostname()}:${process.pid}:89abcdef`, 30_000);
      expect(attempt.acquired, owner).toBe(false);
      expect(!attempt.acquired && attempt.holder?.owner).toBe(owner);
      expect(await lease.holder()).toMatchObject({ owner });
    }
    expect(told).toEqual([]);
  });

  it('counts a file busy with another writer as a busy lock, not a failure', async () => {
    const tables = createKyselyStore({ db: file.db }).tables;
    const lease = createSqliteLeasePrimitive({ db: file.open(), tables, logger });
    const writer = file.open();
    await writer.connection().execute(async (conn) => {
      await sql.raw('BEGIN IMMEDIATE').execute(conn);
      try {
        const attempt = await lease.tryAcquire(`${hostname()}:${process.pid}:89abcdef`, 30_000);
        expect(attempt.acquired).toBe(false);
      } finally {
        await sql.raw('ROLLBACK').execute(conn);
      }
    });
    const after = await lease.tryAcquire(`${hostname()}:${process.pid}:89abcdef`, 30_000);
    expect(after.acquired).toBe(true);
  });

  it('ends a held lease by force and names who held it', async () => {
    const tables = createKyselyStore({ db: file.db }).tables;
    const lease = createSqliteLeasePrimitive({ db: file.db, tables, logger });
    await leaseHeldBy(`${hostname()}:${process.ppid}:0123abcd`);
    expect(await lease.forceRelease()).toMatchObject({ owner: `${hostname()}:${process.ppid}:0123abcd` });
    expect(await lease.holder()).toBeNull();
    expect(await lease.forceRelease()).toBeNull();
  });
});
