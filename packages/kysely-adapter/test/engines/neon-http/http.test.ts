import { createMigrator, MigErrorCode } from '@mig/core';
import { neonConfig } from '@neondatabase/serverless';
import { Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import { createNeonHttpDialect, readNeonHttpUrl } from '../../../src/engines/neon-http/index.js';
import { createFolderSource, createKyselyAdapter, type MigrationDb, openDatabase } from '../../../src/index.js';
import { outcome, race } from '../../support/instances.js';
import { auditedMigrations, type MigrationFolder, migrationFolder, stepName } from '../../support/migrations.js';
import { type NeonHttpEndpoint, neonHttpEndpoint, neonHttpEnv, neonHttpUrl } from '../../support/neon-http-endpoint.js';

// Neon's serverless driver in HTTP mode, against the local endpoint of this process that speaks Neon's
// SQL-over-HTTP protocol over real pg connections (support/neon-http-endpoint.ts): no session, so every
// migration goes with its checks and its record in one transaction request. The contract suites run over this
// engine too (support/engines.ts).

const records = async (db: MigrationDb) =>
  (await sql<{ name: string }>`select name from mig_migrations order by id`.execute(db)).rows.map((r) => r.name);

let endpoint: NeonHttpEndpoint;
let database: TestDatabase;
let url: string;
const opened: MigrationDb[] = [];

const kysely = () => {
  const db = new Kysely<any>({ dialect: createNeonHttpDialect({ url }) });
  opened.push(db);
  return db;
};
const migrator = (db: MigrationDb, dir: string) => {
  const adapter = createKyselyAdapter({ db });
  return createMigrator({ source: createFolderSource(dir), store: adapter.store, lock: adapter.createLock() });
};

beforeAll(async () => {
  endpoint = await neonHttpEndpoint();
  // As a user with an endpoint of their own sets it; mig's dialect only reads it.
  neonConfig.fetchEndpoint = endpoint.url;
});
beforeEach(async () => {
  database = await createTestDatabase('neon_http');
  url = neonHttpUrl(database.url);
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.destroy()));
  await database.drop();
});
afterAll(async () => {
  await endpoint.close();
});

describe('neon+https:// URLs', () => {
  it('read as the connection string Neon takes, and refused without a host or a database', () => {
    expect(
      readNeonHttpUrl('neon+https://app:s%40cret@ep-cool-name.eu-central-1.aws.neon.tech/shop?sslmode=require'),
    ).toBe('postgres://app:s%40cret@ep-cool-name.eu-central-1.aws.neon.tech/shop?sslmode=require');
    expect(() => readNeonHttpUrl('neon+https://app@ep-cool-name.neon.tech/')).toThrow(/needs a host and a database/);
    expect(() => readNeonHttpUrl('neon+https://app@/shop')).toThrow(/neon\+https:\/\/ URL/);
  });

  it('open the HTTP engine, never the WebSocket one', async () => {
    const { db, engine } = await openDatabase(url);
    opened.push(db);
    expect(engine).toBe('neon-http');
    expect(createKyselyAdapter({ db }).engine).toBe('neon-http');
  });
});

describe("a Kysely on Neon's HTTP mode", () => {
  it('sends each query as one request, and refuses an interactive transaction, saying what to use', async () => {
    const db = kysely();
    const before = endpoint.served.requests;
    const { rows } = await sql<{ n: number; t: Date }>`select ${41}::int + 1 as n, now() as t`.execute(db);
    expect(rows[0]?.n).toBe(42);
    // Values come back typed by PostgreSQL's type, as pg returns them.
    expect(rows[0]?.t).toBeInstanceOf(Date);
    expect(endpoint.served.requests).toBe(before + 1);
    await expect(db.transaction().execute(async () => {})).rejects.toThrow(/no interactive transactions.*WebSocket/s);
  });

  it('keeps nothing of a session from one query to the next', async () => {
    const db = kysely();
    await sql`select set_config('application_name', 'kept', false)`.execute(db);
    const { rows } = await sql<{ name: string }>`select current_setting('application_name') as name`.execute(db);
    expect(rows[0]?.name).not.toBe('kept');
  });
});

describe("migrations over Neon's HTTP mode", () => {
  let folder: MigrationFolder;
  afterEach(async () => {
    await folder.dispose();
  });

  it('sends each migration with its record in one transaction request', async () => {
    folder = await migrationFolder({
      '001_todos.sql': 'create table todos (id serial primary key, title text not null);\n',
      '002_seed.sql': "insert into todos (title) values ('one');\ninsert into todos (title) values ('two');\n",
    });
    const db = kysely();
    const before = endpoint.served.transactions;
    const result = await migrator(db, folder.dir).up();
    expect(result.error).toBeUndefined();
    expect(result.results.map((r) => r.name)).toEqual(['001_todos', '002_seed']);
    expect(await records(db)).toEqual(['001_todos', '002_seed']);
    expect((await database.query('select count(*)::int as n from todos')).rows[0].n).toBe(2);
    // Creating mig's tables, then one transaction per migration.
    expect(endpoint.served.transactions - before).toBe(3);
  });

  it('leaves nothing of a failing migration, and no record', async () => {
    folder = await migrationFolder({
      '001_todos.sql': 'create table todos (id serial primary key);\n',
      '002_broken.sql': 'create table broken_half (id int);\ninsert into no_such_table values (1);\n',
    });
    const db = kysely();
    const result = await migrator(db, folder.dir).up();
    expect(result.error?.code).toBe(MigErrorCode.MigrationFailed);
    expect(result.error?.message).toMatch(/no_such_table/);
    expect(await records(db)).toEqual(['001_todos']);
    const left = await database.query("select to_regclass('broken_half') as t");
    expect(left.rows[0].t).toBeNull();
  });

  it("puts a code migration's writes in its transaction, and refuses one that reads before anything is sent", async () => {
    folder = await migrationFolder({
      '001_todos.mjs': `export async function up(db) {
  await db.schema.createTable('todos').addColumn('id', 'integer').execute();
  await db.insertInto('todos').values({ id: 1 }).execute();
}
`,
      '002_reads.mjs': `export async function up(db) {
  await db.schema.createTable('reads_half').addColumn('id', 'integer').execute();
  const rows = await db.selectFrom('todos').selectAll().execute();
  await db.insertInto('todos').values({ id: rows.length + 1 }).execute();
}
`,
    });
    const db = kysely();
    const result = await migrator(db, folder.dir).up();
    expect(result.results.map((r) => [r.name, r.status])).toEqual([
      ['001_todos', 'applied'],
      ['002_reads', 'failed'],
    ]);
    expect(result.error?.message).toMatch(
      /Migration "002_reads" cannot run on Neon's HTTP mode as written: it reads rows/,
    );
    expect(result.error?.message).toMatch(/WebSocket mode/);
    expect(result.error?.message).toMatch(/Nothing was applied/);
    expect(await records(db)).toEqual(['001_todos']);
    expect((await database.query("select to_regclass('reads_half') as t")).rows[0].t).toBeNull();
    expect((await database.query('select count(*)::int as n from todos')).rows[0].n).toBe(1);
  });

  it('runs a no-transaction migration statement by statement, then records it with the checks', async () => {
    folder = await migrationFolder({
      '001_todos.sql': 'create table todos (id int, title text);\n',
      '002_index.sql': '-- mig:no-transaction\ncreate index concurrently todos_title on todos (title);\n',
    });
    const db = kysely();
    const result = await migrator(db, folder.dir).up();
    expect(result.error).toBeUndefined();
    expect(await records(db)).toEqual(['001_todos', '002_index']);
    const index = await database.query("select indisvalid from pg_index where indexrelid = 'todos_title'::regclass");
    expect(index.rows[0].indisvalid).toBe(true);
  });
});

describe('instances racing over HTTP', () => {
  it('apply each migration exactly once, as real processes', { timeout: 240_000 }, async () => {
    const folder = await auditedMigrations("'sql'", 6);
    try {
      const env = neonHttpEnv(endpoint);
      const results = await race(6, (i) => ({ url, dir: folder.dir, name: `http-${i}`, env }));
      const outcomes = results.map(outcome);
      expect(outcomes.map((o) => o.error)).toEqual(outcomes.map(() => null));
      const applied = outcomes.flatMap((o) => o.applied).sort();
      expect(applied).toEqual(['000_audit', ...Array.from({ length: 6 }, (_, i) => stepName(i + 1))]);
      const audit = await database.query<{ migration: string; n: number }>(
        'select migration, count(*)::int as n from audit group by migration order by migration',
      );
      expect(audit.rows.map((r) => [r.migration, r.n])).toEqual([1, 2, 3, 4, 5, 6].map((i) => [stepName(i), 1]));
    } finally {
      await folder.dispose();
    }
  });
});
