import { createMigrator, MigErrorCode, type Migration, MigrationConflictError } from '@mig/core';
import { computeChecksum, EMPTY_HEAD } from '@mig/core/adapter';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createKyselyAdapter,
  createKyselyStore,
  createListSource,
  type InlineMigration,
  type MigrationDb,
  parseDatabaseUrl,
} from '../../../src/index.js';
import { createTestD1, type TestD1 } from '../../support/d1.js';

// What only D1 does: the batch that carries a migration with its record and mig's checks, code migrations
// captured into it, no-transaction migrations run statement by statement. The store and lock contracts run
// over D1 in contract.test.ts; a real Worker in worker.test.ts.

describe('the D1 store', () => {
  let d1: TestD1;
  beforeAll(async () => {
    d1 = await createTestD1();
  });
  afterAll(async () => {
    await d1.close();
  });
  beforeEach(async () => {
    await d1.wipe();
  });

  const migrator = (list: readonly InlineMigration[], db: MigrationDb = d1.db) => {
    const adapter = createKyselyAdapter({ db });
    return createMigrator({
      source: createListSource(list, { splitter: adapter.splitter }),
      store: adapter.store,
      lock: adapter.createLock(),
      lockTimeoutMs: 20_000,
    });
  };
  const recorded = async () =>
    (await sql<{ name: string }>`select name from mig_migrations order by id`.execute(d1.db)).rows.map((r) => r.name);

  it('creates its tables, and the guard table its checks write to', async () => {
    const store = createKyselyStore({ db: d1.db });
    await Promise.all([store.prepare(), createKyselyStore({ db: d1.connect() }).prepare()]);
    expect(await d1.tables()).toEqual([
      'mig_migrations',
      'mig_migrations_guard',
      'mig_migrations_head',
      'mig_migrations_lock',
    ]);
  });

  it('sends a SQL migration whole in one batch with its record; a failing statement leaves nothing', async () => {
    const result = await migrator([
      { name: '001_a', sql: 'create table a (id integer);\ninsert into a (id) values (1);' },
      {
        name: '002_b',
        sql: 'create table b (id integer);\ninsert into a (id) values (2);\ninsert into nowhere values (1);',
      },
    ]).up();
    expect(result.error?.code).toBe(MigErrorCode.MigrationFailed);
    expect(result.error?.message).toMatch(/002_b[\s\S]*no such table: nowhere/);
    expect(await recorded()).toEqual(['001_a']);
    expect(await d1.tables()).not.toContain('b');
    const { rows } = await sql<{ id: number }>`select id from a`.execute(d1.db);
    expect(rows).toEqual([{ id: 1 }]);
  });

  it('fails the whole batch with CONFLICT when the head moved, and runs nothing of the migration', async () => {
    const store = createKyselyStore({ db: d1.db });
    await store.prepare();
    const script = 'create table c (id integer);';
    const migration: Migration<MigrationDb> = {
      name: '001_c',
      checksum: computeChecksum(script),
      origin: 'test',
      sql: script,
      load: async () => ({ transactional: true, up: async () => {}, sql: { up: script } }),
    };
    const stale = { count: 3, digest: 'not-the-head' };
    const error = await store.apply(migration, { expectedHead: stale }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationConflictError);
    expect((error as MigrationConflictError).code).toBe(MigErrorCode.Conflict);
    expect(await d1.tables()).not.toContain('c');
    expect(await store.readHead()).toEqual(EMPTY_HEAD);
    // The check's row went with the batch: the guard table never holds one.
    const { rows } = await sql<{ n: number }>`select count(*) as n from mig_migrations_guard`.execute(d1.db);
    expect(rows).toEqual([{ n: 0 }]);
  });

  it("puts a code migration's writes in its batch, and refuses one that reads before anything is sent", async () => {
    const writes = await migrator([
      {
        name: '001_code',
        checksum: computeChecksum('code-1'),
        async up(db) {
          await db.schema
            .createTable('items')
            .addColumn('id', 'integer', (c) => c.primaryKey())
            .execute();
          await db.insertInto('items').values({ id: 7 }).execute();
        },
      },
    ]).up();
    expect(writes.error).toBeUndefined();
    expect((await sql<{ id: number }>`select id from items`.execute(d1.db)).rows).toEqual([{ id: 7 }]);

    const reads = await migrator([
      { name: '001_code', checksum: computeChecksum('code-1'), up: async () => {} },
      {
        name: '002_reads',
        checksum: computeChecksum('reads-1'),
        async up(db) {
          await db.schema.createTable('copied').addColumn('id', 'integer').execute();
          const rows = await db.selectFrom('items').select('id').execute();
          for (const row of rows) await db.insertInto('copied').values(row).execute();
        },
      },
    ]).up();
    expect(reads.error?.message).toMatch(/"002_reads" cannot run on D1 as written: it reads rows \(a SELECT\)/);
    expect(reads.error?.message).toMatch(/transactional: false/);
    expect(await d1.tables()).not.toContain('copied');
    expect(await recorded()).toEqual(['001_code']);
  });

  it('runs a no-transaction migration statement by statement: a failure keeps what ran, records nothing', async () => {
    const list = (third: string): InlineMigration[] => [
      {
        name: '001_free',
        sql: `-- mig:no-transaction\ncreate table f (id integer);\ninsert into f values (1);\n${third}`,
      },
    ];
    const failed = await migrator(list('insert into nowhere values (1);')).up();
    expect(failed.error?.code).toBe(MigErrorCode.MigrationFailed);
    expect((await sql<{ id: number }>`select id from f`.execute(d1.db)).rows).toEqual([{ id: 1 }]);
    expect(await recorded()).toEqual([]);

    // A code migration outside a transaction reads what it needs, each query answered at once.
    const reads = await migrator([
      {
        name: '001_free',
        checksum: computeChecksum('free-2'),
        transactional: false,
        async up(db) {
          const rows = await db.selectFrom('f').select('id').execute();
          await db
            .insertInto('f')
            .values({ id: rows.length + 1 })
            .execute();
        },
      },
    ]).up();
    expect(reads.error).toBeUndefined();
    expect((await sql<{ id: number }>`select id from f order by id`.execute(d1.db)).rows).toEqual([
      { id: 1 },
      { id: 2 },
    ]);
    expect(await recorded()).toEqual(['001_free']);
  });

  it("names the migration that failed among several in one batch (transaction: 'all'), and leaves nothing", async () => {
    const result = await migrator([
      { name: '001_a', sql: 'create table a (id integer);' },
      { name: '002_b', sql: 'create table b (id integer);\ninsert into nowhere values (1);' },
      { name: '003_c', sql: 'create table c (id integer);' },
    ]).up({ transaction: 'all' });
    expect(result.results.map((r) => [r.name, r.status])).toEqual([
      ['001_a', 'not-run'],
      ['002_b', 'failed'],
      ['003_c', 'not-run'],
    ]);
    expect(result.error?.message).toMatch(/"002_b"[\s\S]*no such table: nowhere/);
    expect(await recorded()).toEqual([]);
    expect(await d1.tables()).not.toContain('a');
  });

  it('reverts the latest migration in one batch', async () => {
    const list: InlineMigration[] = [
      { name: '001_a', sql: 'create table a (id integer);\n-- mig:down\ndrop table a;' },
      { name: '002_b', sql: 'create table b (id integer);\n-- mig:down\ndrop table b;' },
    ];
    expect((await migrator(list).up()).error).toBeUndefined();
    const down = await migrator(list).down();
    expect(down.error).toBeUndefined();
    expect(await recorded()).toEqual(['001_a']);
    expect(await d1.tables()).not.toContain('b');
  });

  it('refuses a Kysely whose D1 dialect mig cannot batch on, saying what to use', async () => {
    const { D1Dialect } = await import('kysely-d1');
    const { Kysely } = await import('kysely');
    const plain = new Kysely<any>({ dialect: new D1Dialect({ database: d1.binding as never }) });
    const store = createKyselyStore({ db: plain, engine: 'd1' });
    await expect(store.prepare()).rejects.toThrow(/createD1Dialect\(env\.DB\) from '@mig\/kysely-adapter\/d1'/);
    await plain.destroy();
  });
});

describe('d1: URLs', () => {
  it('name the persist folder and the binding', () => {
    expect(parseDatabaseUrl('d1:./.wrangler/state/v3/d1?binding=DB')).toMatchObject({
      engine: 'd1',
      path: './.wrangler/state/v3/d1',
    });
    expect(() => parseDatabaseUrl('d1:?binding=DB')).toThrow(/d1:\.\/\.wrangler\/state\/v3\/d1\?binding=DB/);
    expect(() => parseDatabaseUrl('d1:./dir?binding=not-a-name')).toThrow(/binding/);
  });
});
