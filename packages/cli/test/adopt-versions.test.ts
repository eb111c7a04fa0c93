import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { snapshotTables } from '../../kysely-adapter/test/support/foreign-tools.js';
import { mig } from './support.js';

// Adopting the history of tools that do not install from npm (Prisma's CLI downloads engines at install;
// goose, dbmate and golang-migrate are Go programs, Flyway is Java). Their history tables are built here
// exactly as each tool's documentation and source define them on PostgreSQL, with the rows the tool writes
// after applying the first two migrations of a folder in its own layout; the tables those migrations create
// are made by running the same files. Then the real `mig` adopts, and carries on with the third.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const table = (name: string) => `create table ${name} (id integer primary key);\n`;

interface ToolCase {
  readonly tool: 'prisma' | 'goose' | 'dbmate' | 'golang-migrate' | 'flyway' | 'drizzle';
  /** The folder in the tool's layout: two applied migrations, then one pending. */
  readonly files: Record<string, string>;
  /** What the two applied ones ran (the tool ran them). */
  readonly applied: readonly string[];
  readonly names: readonly string[];
  readonly pending: string;
  /** The tool's history table and its rows, as the tool writes them. */
  readonly history: string;
  readonly historyTable: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const CASES: readonly ToolCase[] = [
  {
    // drizzle-kit 1.0's folders: the drizzle-orm on npm here still writes the journal layout, so the table
    // is built as drizzle-orm's PostgreSQL migrator defines it: the hash of migration.sql and the folder's time.
    tool: 'drizzle',
    files: {
      '20240101000000_one/migration.sql': table('z_one'),
      '20240101000000_one/snapshot.json': '{}',
      '20240102000000_two/migration.sql': table('z_two'),
      '20240102000000_two/snapshot.json': '{}',
      '20240103000000_three/migration.sql': table('z_three'),
      '20240103000000_three/snapshot.json': '{}',
    },
    applied: [table('z_one'), table('z_two')],
    names: ['20240101000000_one', '20240102000000_two'],
    pending: '20240103000000_three',
    history: `CREATE SCHEMA IF NOT EXISTS "drizzle";
      CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
      INSERT INTO "drizzle"."__drizzle_migrations" ("hash", "created_at") VALUES
        ('${sha256(table('z_one'))}', ${Date.UTC(2024, 0, 1)}), ('${sha256(table('z_two'))}', ${Date.UTC(2024, 0, 2)});`,
    historyTable: '"drizzle"."__drizzle_migrations"',
  },
  {
    tool: 'prisma',
    files: {
      'migration_lock.toml': 'provider = "postgresql"\n',
      '20240101000000_one/migration.sql': table('p_one'),
      '20240102000000_two/migration.sql': table('p_two'),
      '20240103000000_three/migration.sql': table('p_three'),
    },
    applied: [table('p_one'), table('p_two')],
    names: ['20240101000000_one', '20240102000000_two'],
    pending: '20240103000000_three',
    // prisma-engines, migration-core: the PostgreSQL migrations table.
    history: `CREATE TABLE "_prisma_migrations" (
        "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
        "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
        "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0);
      INSERT INTO "_prisma_migrations" VALUES
        ('a0000000-0000-0000-0000-000000000001', repeat('a', 64), now(), '20240101000000_one', NULL, NULL, now() - interval '2 minutes', 1),
        ('a0000000-0000-0000-0000-000000000009', repeat('c', 64), NULL, '20240102000000_two', 'failed first', now(), now() - interval '90 seconds', 0),
        ('a0000000-0000-0000-0000-000000000002', repeat('b', 64), now(), '20240102000000_two', NULL, NULL, now() - interval '1 minute', 1);`,
    historyTable: '"public"."_prisma_migrations"',
  },
  {
    tool: 'goose',
    files: {
      '00001_one.sql': `-- +goose Up\n${table('g_one')}-- +goose Down\ndrop table g_one;\n`,
      '00002_two.sql': `-- +goose Up\n${table('g_two')}-- +goose Down\ndrop table g_two;\n`,
      '00003_three.sql': `-- +goose Up\n${table('g_three')}-- +goose Down\ndrop table g_three;\n`,
    },
    applied: [table('g_one'), table('g_two')],
    names: ['00001_one', '00002_two'],
    pending: '00003_three',
    // goose, internal/dialect/dialectquery/postgres.go: the version table, its version-0 row, then one row
    // per up or down; version 2 was applied, rolled back and applied again.
    history: `CREATE TABLE goose_db_version (
        id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, version_id bigint NOT NULL,
        is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now());
      INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (2, false), (2, true);`,
    historyTable: '"public"."goose_db_version"',
  },
  {
    tool: 'dbmate',
    files: {
      '20240101000000_one.sql': `-- migrate:up\n${table('d_one')}\n-- migrate:down\ndrop table d_one;\n`,
      '20240102000000_two.sql': `-- migrate:up\n${table('d_two')}\n-- migrate:down\ndrop table d_two;\n`,
      '20240103000000_three.sql': `-- migrate:up\n${table('d_three')}\n-- migrate:down\ndrop table d_three;\n`,
    },
    applied: [table('d_one'), table('d_two')],
    names: ['20240101000000_one', '20240102000000_two'],
    pending: '20240103000000_three',
    // dbmate, pkg/driver/postgres: schema_migrations of versions.
    history: `create table if not exists schema_migrations (version varchar(128) primary key);
      insert into schema_migrations (version) values ('20240102000000'), ('20240101000000');`,
    historyTable: '"public"."schema_migrations"',
  },
  {
    tool: 'golang-migrate',
    files: {
      '1_one.up.sql': table('m_one'),
      '1_one.down.sql': 'drop table m_one;\n',
      '2_two.up.sql': table('m_two'),
      '2_two.down.sql': 'drop table m_two;\n',
      '10_three.up.sql': table('m_three'),
      '10_three.down.sql': 'drop table m_three;\n',
    },
    applied: [table('m_one'), table('m_two')],
    names: ['1_one', '2_two'],
    pending: '10_three',
    // golang-migrate, database/postgres: one row, the current version and whether it is dirty.
    history: `CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null);
      INSERT INTO schema_migrations (version, dirty) VALUES (2, false);`,
    historyTable: '"public"."schema_migrations"',
  },
  {
    tool: 'flyway',
    files: {
      'V1__one.sql': table('f_one'),
      'V1.9.4__two.sql': table('f_two'),
      'V1.10.0__three.sql': table('f_three'),
    },
    applied: [table('f_one'), table('f_two')],
    names: ['V1__one', 'V1.9.4__two'],
    pending: 'V1.10.0__three',
    // Flyway, the PostgreSQL createMetaDataTable.sql: the schema history table and its primary key.
    history: `CREATE TABLE "flyway_schema_history" (
        "installed_rank" INT NOT NULL, "version" VARCHAR(50), "description" VARCHAR(200) NOT NULL,
        "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER,
        "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
        "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL);
      ALTER TABLE "flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
      INSERT INTO "flyway_schema_history" ("installed_rank", "version", "description", "type", "script", "checksum", "installed_by", "execution_time", "success") VALUES
        (1, '1', 'one', 'SQL', 'V1__one.sql', 11, 'postgres', 5, true),
        (2, '1.9.4', 'two', 'SQL', 'V1.9.4__two.sql', 22, 'postgres', 5, true);`,
    historyTable: '"public"."flyway_schema_history"',
  },
];

async function setup(spec: ToolCase) {
  const database: TestDatabase = await createTestDatabase(`adopt_${spec.tool.replace(/-/g, '_')}`);
  const dir = await mkdtemp(join(tmpdir(), `mig-${spec.tool}-`));
  cleanups.push(() => database.drop());
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  for (const [file, content] of Object.entries(spec.files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), content);
  }
  for (const text of spec.applied) await database.query(text);
  await database.query(spec.history);
  const run = (args: string[]) =>
    mig([...args, '--migrations', dir], { cwd: dir, env: { DATABASE_URL: database.url } });
  return { database, dir, run };
}

describe.each(CASES)('adopting from $tool', (spec) => {
  it('status names the command; adopt records the history (dry run first, then again idempotently), and up runs only the rest', async () => {
    const { database, run } = await setup(spec);
    const status = await run(['status']);
    expect(status.stdout).toContain(`mig adopt --from ${spec.tool}`);
    // Until adopted, up refuses rather than run the tool's migrations a second time (as a service does).
    const refused = await run(['up']);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toContain(`mig adopt --from ${spec.tool}`);
    const before = await snapshotTables(database.db, [spec.historyTable]);

    const dry = await run(['adopt', '--from', spec.tool, '--dry-run', '--json']);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.json().changes.map((c: { name: string }) => c.name)).toEqual(spec.names);
    const noStore = await database.query(`select to_regclass('public.mig_migrations')::text as t`);
    expect(noStore.rows[0].t).toBeNull();

    const adopted = await run(['adopt', '--from', spec.tool]);
    expect(adopted.code, adopted.stdout + adopted.stderr).toBe(0);
    expect((await database.query('select name from mig_migrations order by id')).rows.map((r) => r.name)).toEqual(
      spec.names,
    );
    expect(await snapshotTables(database.db, [spec.historyTable])).toEqual(before);
    const again = await run(['adopt', '--from', spec.tool, '--json']);
    expect(again.json()).toMatchObject({ ok: true, changes: [] });

    const up = await run(['up', '--json']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.json().results.map((r: { name: string }) => r.name)).toEqual([spec.pending]);
  });
});

describe('adoptions mig refuses', () => {
  it('refuses a dirty golang-migrate history and says why', async () => {
    const spec = CASES.find((c) => c.tool === 'golang-migrate') as ToolCase;
    const { database, run } = await setup(spec);
    await database.query('update schema_migrations set dirty = true');
    const adopt = await run(['adopt', '--from', 'golang-migrate']);
    expect(adopt.code).not.toBe(0);
    expect(adopt.stdout + adopt.stderr).toContain('is dirty at version 2');
    expect(adopt.stdout + adopt.stderr).toContain('migrate force');
    const store = await database.query(`select to_regclass('public.mig_migrations')::text as t`);
    if (store.rows[0].t !== null) expect((await database.query('select * from mig_migrations')).rows).toEqual([]);
  });

  it('stops on a disagreement and names it: a Prisma migration applied that has no folder', async () => {
    const spec = CASES.find((c) => c.tool === 'prisma') as ToolCase;
    const { database, run } = await setup(spec);
    await database.query(
      `insert into "_prisma_migrations" values ('a0000000-0000-0000-0000-000000000003', repeat('d', 64), now(), '20240101120000_gone', null, null, now() - interval '100 seconds', 1)`,
    );
    const adopt = await run(['adopt', '--from', 'prisma']);
    expect(adopt.code).not.toBe(0);
    expect(adopt.stdout + adopt.stderr).toContain('"20240101120000_gone" is applied in prisma\'s history');
  });
});
