import {
  createMigrator,
  MigErrorCode,
  MigrationConflictError,
  MigrationDriftError,
  MigrationFailedError,
} from '@mig/core';
import { EMPTY_HEAD, prefixDigests } from '@mig/core/adapter';
import { type Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFolderSource, createKyselyStore } from '../src/index.js';
import { ENGINES, type EngineDatabase } from './support/engines.js';
import { type MigrationFolder, migrationFolder } from './support/migrations.js';

const TODOS = 'create table todos (id serial primary key, title text not null);\n-- mig:down\ndrop table todos;\n';
const DONE =
  'alter table todos add column done boolean not null default false;\n-- mig:down\nalter table todos drop column done;\n';
const AUDIT = 'create table audit (id serial primary key, at timestamptz not null default now());\n';

async function tables(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables where table_schema = 'public' order by 1`.execute(db);
  return rows.map((r) => r.name);
}

async function records(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from mig_migrations order by id`.execute(db);
  return rows.map((r) => r.name);
}

// These cases are written in PostgreSQL's SQL: they run on the engines of the matrix that speak it.
const POSTGRESQL = ENGINES.filter((engine) => engine.capabilities.system === 'postgresql');

describe.each(POSTGRESQL)('migrations on $name', (engine) => {
  let handle: EngineDatabase;
  let folder: MigrationFolder;
  const migrator = () =>
    createMigrator({ source: createFolderSource(folder.dir), store: createKyselyStore({ db: handle.db }) });

  beforeEach(async () => {
    handle = await engine.open();
    folder = await migrationFolder({ '001_todos.sql': TODOS, '002_done.sql': DONE });
  });
  afterEach(async () => {
    await handle.close();
    await folder.dispose();
  });

  it('applies every pending migration, records each, and a rerun is a no-op', async () => {
    const first = await migrator().up();
    expect(first.error).toBeUndefined();
    expect(first.results.map((r) => [r.name, r.status])).toEqual([
      ['001_todos', 'applied'],
      ['002_done', 'applied'],
    ]);
    expect(first.status?.state).toBe('up-to-date');
    expect(await tables(handle.db)).toEqual(['mig_migrations', 'mig_migrations_head', 'mig_migrations_lock', 'todos']);
    expect(await records(handle.db)).toEqual(['001_todos', '002_done']);
    await sql`insert into todos (title, done) values ('works', true)`.execute(handle.db);

    const again = await migrator().up();
    expect(again.error).toBeUndefined();
    expect(again.results).toEqual([]);
    expect(await records(handle.db)).toEqual(['001_todos', '002_done']);

    const status = await migrator().status();
    expect(status).toMatchObject({
      state: 'up-to-date',
      appliedCount: 2,
      pending: [],
      problems: [],
      via: 'head',
    });
  });

  it('reports pending migrations without creating anything', async () => {
    const status = await migrator().status();
    expect(status).toMatchObject({
      state: 'pending',
      appliedCount: 0,
      pending: ['001_todos', '002_done'],
      head: null,
    });
    expect(await tables(handle.db)).toEqual([]);
  });

  it('applies up to a named migration with `to`', async () => {
    const result = await migrator().up({ to: '001_todos' });
    expect(result.results.map((r) => r.name)).toEqual(['001_todos']);
    expect(result.status).toMatchObject({ state: 'pending', pending: ['002_done'] });
    const unknown = await migrator().up({ to: '999_nope' });
    expect(unknown.error?.code).toBe(MigErrorCode.InvalidTarget);
    expect(unknown.error?.message).toContain('There is no migration named "999_nope"');
  });

  it('rolls back a failing migration completely and names it and the cause', async () => {
    await folder.write('003_broken.sql', 'create table half (id int);\ninsert into half values (1);\nselect 1 / 0;\n');
    await folder.write('004_after.sql', AUDIT);
    const result = await migrator().up();
    expect(result.results.map((r) => [r.name, r.status])).toEqual([
      ['001_todos', 'applied'],
      ['002_done', 'applied'],
      ['003_broken', 'failed'],
      ['004_after', 'not-run'],
    ]);
    expect(result.error).toBeInstanceOf(MigrationFailedError);
    expect(result.error?.message).toContain('Failed to apply migration "003_broken"');
    expect(result.error?.message).toContain('division by zero');
    expect(result.error?.cause).toBeInstanceOf(Error);
    // Neither its changes nor its record remain; what ran before it stays.
    expect(await tables(handle.db)).not.toContain('half');
    expect(await tables(handle.db)).not.toContain('audit');
    expect(await records(handle.db)).toEqual(['001_todos', '002_done']);
    expect(await migrator().status()).toMatchObject({
      state: 'pending',
      pending: ['003_broken', '004_after'],
      via: 'head',
    });
  });

  it('wraps a thrown value that is not an Error', async () => {
    await folder.write(
      '003_throws.mjs',
      "export async function up(db) { await db.schema.createTable('t3').addColumn('x', 'integer').execute(); throw 'plain string'; }\n",
    );
    const result = await migrator().up();
    expect(result.error).toBeInstanceOf(MigrationFailedError);
    expect(result.error?.message).toContain('Failed to apply migration "003_throws": plain string');
    expect(result.error?.cause).toBe('plain string');
    expect(await tables(handle.db)).not.toContain('t3');

    await folder.write('003_throws.mjs', 'export async function up() { throw undefined; }\n');
    const again = await migrator().up();
    expect(again.error?.message).toContain('Failed to apply migration "003_throws": undefined');
  });

  it('runs a "-- mig:no-transaction" migration outside a transaction (CREATE INDEX CONCURRENTLY)', async () => {
    await folder.write(
      '003_index.sql',
      '-- mig:no-transaction\ncreate index concurrently todos_title_idx on todos (title);\ncreate index concurrently todos_done_idx on todos (done);\n',
    );
    const result = await migrator().up();
    expect(result.error).toBeUndefined();
    expect(result.results.find((r) => r.name === '003_index')).toMatchObject({
      status: 'applied',
      transactional: false,
    });
    const { rows } = await sql<{ name: string; valid: boolean }>`
      select c.relname as name, i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
      where c.relname in ('todos_title_idx', 'todos_done_idx') order by 1`.execute(handle.db);
    expect(rows).toEqual([
      { name: 'todos_done_idx', valid: true },
      { name: 'todos_title_idx', valid: true },
    ]);
    const { rows: recorded } = await sql<{ transactional: boolean }>`
      select transactional from mig_migrations where name = '003_index'`.execute(handle.db);
    expect(recorded).toEqual([{ transactional: false }]);
  });

  it('runs TypeScript migrations with the Kysely schema builder', async () => {
    await folder.write(
      '003_tags.ts',
      [
        "import type { Kysely } from 'kysely';",
        'export async function up(db: Kysely<any>): Promise<void> {',
        "  await db.schema.createTable('tags').addColumn('id', 'serial', (c) => c.primaryKey()).addColumn('label', 'text').execute();",
        "  await db.insertInto('tags').values({ label: 'first' }).execute();",
        '}',
        'export async function down(db: Kysely<any>): Promise<void> {',
        "  await db.schema.dropTable('tags').execute();",
        '}',
      ].join('\n'),
    );
    expect((await migrator().up()).error).toBeUndefined();
    const { rows } = await sql<{ label: string }>`select label from tags`.execute(handle.db);
    expect(rows).toEqual([{ label: 'first' }]);
    expect((await migrator().down()).results.map((r) => [r.name, r.status])).toEqual([['003_tags', 'reverted']]);
    expect(await tables(handle.db)).not.toContain('tags');
  });

  it('reports an edited applied migration as changed and applies nothing', async () => {
    await migrator().up();
    await folder.write('001_todos.sql', `${TODOS}-- a harmless-looking edit\n`);
    await folder.write('003_audit.sql', AUDIT);
    const status = await migrator().status();
    expect(status.state).toBe('drifted');
    expect(status.via).toBe('records');
    expect(status.problems).toEqual([expect.objectContaining({ kind: 'changed', name: '001_todos' })]);
    const result = await migrator().up();
    expect(result.error).toBeInstanceOf(MigrationDriftError);
    expect(result.error?.message).toContain('"001_todos" was changed after it was applied');
    expect(result.results).toEqual([]);
    expect(await tables(handle.db)).not.toContain('audit');
  });

  it('reports a deleted applied migration as missing and applies nothing', async () => {
    await migrator().up();
    await folder.remove('002_done.sql');
    await folder.write('003_audit.sql', AUDIT);
    const result = await migrator().up();
    expect(result.error).toBeInstanceOf(MigrationDriftError);
    expect((result.error as MigrationDriftError).problems).toEqual([{ kind: 'missing', name: '002_done' }]);
    expect(await tables(handle.db)).not.toContain('audit');
  });

  it('reports an older unapplied migration as out of order and applies nothing', async () => {
    await folder.write('003_audit.sql', AUDIT);
    await folder.remove('002_done.sql');
    await migrator().up();
    await folder.write('002_done.sql', DONE);
    await folder.write('004_more.sql', 'create table more (id int);');
    const result = await migrator().up();
    expect(result.error).toBeInstanceOf(MigrationDriftError);
    expect((result.error as MigrationDriftError).problems).toEqual([
      { kind: 'out-of-order', name: '002_done', latestApplied: '003_audit' },
    ]);
    expect(result.error?.message).toContain('rename it so it sorts after "003_audit"');
    expect(await tables(handle.db)).not.toContain('more');
  });

  it('reverts the last migration with down, then down to a named one', async () => {
    await folder.write('003_audit.sql', `${AUDIT}-- mig:down\ndrop table audit;\n`);
    await migrator().up();
    const one = await migrator().down();
    expect(one.results.map((r) => [r.name, r.status])).toEqual([['003_audit', 'reverted']]);
    expect(await tables(handle.db)).not.toContain('audit');
    expect(await records(handle.db)).toEqual(['001_todos', '002_done']);
    // The head moved back too: the next status check is the one-row comparison again.
    expect(await migrator().status()).toMatchObject({
      state: 'pending',
      pending: ['003_audit'],
      via: 'head',
    });

    await migrator().up();
    const toFirst = await migrator().down({ to: '001_todos' });
    expect(toFirst.results.map((r) => r.name)).toEqual(['003_audit', '002_done']);
    expect(await records(handle.db)).toEqual(['001_todos']);
    const { rows } = await sql<{ column_name: string }>`
      select column_name from information_schema.columns where table_name = 'todos' order by 1`.execute(handle.db);
    expect(rows.map((r) => r.column_name)).toEqual(['id', 'title']);

    const all = await migrator().down({ all: true });
    expect(all.results.map((r) => r.name)).toEqual(['001_todos']);
    expect(await migrator().status()).toMatchObject({
      appliedCount: 0,
      head: EMPTY_HEAD,
    });
  });

  it('refuses to revert a migration that has no down, reverting nothing', async () => {
    await folder.write('003_audit.sql', AUDIT);
    await migrator().up();
    const result = await migrator().down({ to: '001_todos' });
    expect(result.error?.code).toBe(MigErrorCode.InvalidTarget);
    expect(result.error?.message).toContain('Cannot revert "003_audit": no down migration defined');
    expect(await records(handle.db)).toEqual(['001_todos', '002_done', '003_audit']);
  });

  it('runs a SQL file that starts with a byte-order mark', async () => {
    await folder.write('003_bom.sql', '\uFEFFcreate table bom (id int);\n');
    expect((await migrator().up()).error).toBeUndefined();
    expect(await tables(handle.db)).toContain('bom');
  });

  it('refuses a transactional SQL file that commits by itself, applying nothing', async () => {
    await folder.write('003_commits.sql', 'begin;\ncreate table a (id int);\ncommit;\ncreate table b (id int);\n');
    const result = await migrator().up();
    expect(result.error?.code).toBe(MigErrorCode.InvalidSource);
    expect(result.error?.message).toContain('controls its own transaction in its up part ("begin")');
    expect(await tables(handle.db)).toEqual([]);
    // Savepoints are fine, and so are plpgsql blocks with BEGIN … END inside dollar quotes.
    await folder.write(
      '003_commits.sql',
      'savepoint s1;\ncreate table a (id int);\nrelease savepoint s1;\ndo $$ begin perform 1; end $$;\n',
    );
    expect((await migrator().up()).error).toBeUndefined();
  });

  it('serves an older deploy when a newer one migrated ahead, but will not revert what it lacks', async () => {
    await folder.write('003_newer.sql', AUDIT);
    await migrator().up(); // the newer deploy
    await folder.remove('003_newer.sql'); // the older deploy's files
    const status = await migrator().status();
    expect(status).toMatchObject({ state: 'up-to-date', pending: [], problems: [], ahead: ['003_newer'] });
    const up = await migrator().up();
    expect(up.error).toBeUndefined();
    expect(up.results).toEqual([]);
    const down = await migrator().down();
    expect(down.error?.code).toBe(MigErrorCode.InvalidTarget);
    expect(down.error?.message).toContain('"003_newer": applied by a newer version of the code');
    // A file missing from the middle of the history is still drift.
    await folder.remove('001_todos.sql');
    expect((await migrator().status()).problems).toEqual([{ kind: 'missing', name: '001_todos' }]);
  });

  it('fails a loaded-but-broken module before applying anything', async () => {
    await folder.write('003_noup.ts', 'export const nothing = 1;\n');
    const result = await migrator().up();
    expect(result.error?.code).toBe(MigErrorCode.InvalidSource);
    expect(result.error?.message).toContain('exports no up function');
    expect(result.results).toEqual([]);
    expect(await tables(handle.db)).toEqual([]);
  });

  it('never records a migration twice when another writer moved the head', async () => {
    const store = createKyselyStore({ db: handle.db });
    await store.prepare();
    const [first] = await createFolderSource(folder.dir).load();
    if (!first) throw new Error('fixture has no migrations');
    await store.apply(first, { expectedHead: EMPTY_HEAD });
    const error = await store.apply(first, { expectedHead: EMPTY_HEAD }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationConflictError);
    expect(await records(handle.db)).toEqual(['001_todos']);
    expect(await store.readHead()).toEqual({ count: 1, digest: prefixDigests([first])[1] });
  });

  it('previews a dry run without writing anything, not even its own tables', async () => {
    await folder.write(
      '003_tags.mjs',
      "export async function up(db) { await db.schema.createTable('tags').addColumn('id', 'integer').execute(); await db.insertInto('x').values({ secret: 'hunter2' }).execute(); }\n",
    );
    const result = await migrator().up({ dryRun: true });
    expect(result.error).toBeUndefined();
    expect(result.results.map((r) => [r.name, r.status])).toEqual([
      ['001_todos', 'planned'],
      ['002_done', 'planned'],
      ['003_tags', 'planned'],
    ]);
    expect(result.results[0]?.sql).toEqual(['create table todos (id serial primary key, title text not null);']);
    expect(result.results[2]?.sql).toEqual([
      'create table "tags" ("id" integer)',
      'insert into "x" ("secret") values ($1) -- 1 parameter(s)',
    ]);
    expect(JSON.stringify(result)).not.toContain('hunter2');
    expect(await tables(handle.db)).toEqual([]);
  });
});
