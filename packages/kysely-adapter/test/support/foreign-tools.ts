import { promises as fs } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate as drizzleMigrate } from 'drizzle-orm/node-postgres/migrator';
import knex from 'knex';
import { FileMigrationProvider, Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
/**
 * The tools that install from npm, driven for real here. The others mig adopts from (Prisma, goose, dbmate,
 * golang-migrate, Flyway) do not run under Node here: their tables are built as their documentation and
 * source define them, in test/foreign/version-tools.test.ts.
 */
export const NPM_TOOLS = ['kysely', 'knex', 'node-pg-migrate', 'drizzle'] as const;
export type ForeignTool = (typeof NPM_TOOLS)[number];

/**
 * Drives the real migration tools (Kysely's Migrator, knex, node-pg-migrate, Drizzle) against a real
 * database, from folders of their own migration files, so that adopting their history is tested on what
 * they really write.
 */

/** Each tool's three fixture migrations: `<tool>_users`, `<tool>_posts` and an index on the posts. */
export const FOREIGN_FIXTURES: Readonly<Record<ForeignTool, string>> = {
  kysely: fixture('kysely'),
  knex: fixture('knex'),
  'node-pg-migrate': fixture('node-pg-migrate'),
  drizzle: fixture('drizzle'),
};

function fixture(tool: ForeignTool): string {
  return fileURLToPath(new URL(`../fixtures/foreign/${tool}`, import.meta.url));
}

/** The fixtures' migrations as mig names them (file names without extensions), in order. */
export const FOREIGN_FIXTURE_NAMES: Readonly<Record<ForeignTool, readonly string[]>> = {
  kysely: [
    '20240101000000_create_kysely_users',
    '20240102000000_create_kysely_posts',
    '20240103000000_index_kysely_posts_user',
  ],
  knex: [
    '20240101000000_create_knex_users',
    '20240102000000_create_knex_posts',
    '20240103000000_index_knex_posts_user',
  ],
  'node-pg-migrate': [
    '20240101000000_create_pgm_users',
    '20240102000000_create_pgm_posts',
    '20240103000000_index_pgm_posts_user',
  ],
  drizzle: ['0000_create_drizzle_users', '0001_create_drizzle_posts', '0002_index_drizzle_posts_user'],
};

/** The tables each fixture creates (in `public`), to check that a tool ran or that nothing ran again. */
export const FOREIGN_FIXTURE_TABLES: Readonly<Record<ForeignTool, readonly string[]>> = {
  kysely: ['kysely_users', 'kysely_posts'],
  knex: ['knex_users', 'knex_posts'],
  'node-pg-migrate': ['pgm_users', 'pgm_posts'],
  drizzle: ['drizzle_users', 'drizzle_posts'],
};

export interface ToolRunOptions {
  /** The tool's history table, renamed (Kysely `migrationTableName`, knex `tableName`, …). */
  readonly table?: string | undefined;
  /** The schema of the tool's history table (created when missing). */
  readonly schema?: string | undefined;
  /** Kysely only: `allowUnorderedMigrations`, to apply a file that sorts before applied ones. */
  readonly allowUnordered?: boolean | undefined;
}

export type ToolRunner = (url: string, dir?: string, options?: ToolRunOptions) => Promise<void>;

/** Kysely's Migrator with FileMigrationProvider, `migrateToLatest()`; throws what it reports. */
export const migrateWithKysely: ToolRunner = async (url, dir = FOREIGN_FIXTURES.kysely, options = {}) => {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  try {
    const migrator = new Migrator({
      db,
      provider: new FileMigrationProvider({ fs, path, migrationFolder: dir }),
      ...(options.table === undefined ? {} : { migrationTableName: options.table }),
      ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema }),
      ...(options.allowUnordered ? { allowUnorderedMigrations: true } : {}),
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error !== undefined) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      throw new Error(`Kysely's Migrator failed${failed ? ` on ${failed}` : ''}: ${String(error)}`, { cause: error });
    }
  } finally {
    await db.destroy();
  }
};

/** knex `migrate.latest()` on the `pg` client. */
export const migrateWithKnex: ToolRunner = async (url, dir = FOREIGN_FIXTURES.knex, options = {}) => {
  const instance = knex({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
  try {
    // knex does not create the schema it is told to keep its tables in.
    if (options.schema !== undefined) await instance.raw('create schema if not exists ??', [options.schema]);
    await instance.migrate.latest({
      directory: dir,
      ...(options.table === undefined ? {} : { tableName: options.table }),
      ...(options.schema === undefined ? {} : { schemaName: options.schema }),
    });
  } finally {
    await instance.destroy();
  }
};

/** node-pg-migrate's programmatic `runner`, direction up. */
export const migrateWithNodePgMigrate: ToolRunner = async (
  url,
  dir = FOREIGN_FIXTURES['node-pg-migrate'],
  options = {},
) => {
  await runner({
    databaseUrl: url,
    dir,
    direction: 'up',
    migrationsTable: options.table ?? 'pgmigrations',
    ...(options.schema === undefined ? {} : { migrationsSchema: options.schema, createMigrationsSchema: true }),
    log: () => {},
  });
};

/** Drizzle's `migrate` from drizzle-orm/node-postgres/migrator (reads `<dir>/meta/_journal.json`). */
export const migrateWithDrizzle: ToolRunner = async (url, dir = FOREIGN_FIXTURES.drizzle, options = {}) => {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await drizzleMigrate(drizzle(pool), {
      migrationsFolder: dir,
      ...(options.table === undefined ? {} : { migrationsTable: options.table }),
      ...(options.schema === undefined ? {} : { migrationsSchema: options.schema }),
    });
  } finally {
    await pool.end();
  }
};

export const migrateWithTool: Readonly<Record<ForeignTool, ToolRunner>> = {
  kysely: migrateWithKysely,
  knex: migrateWithKnex,
  'node-pg-migrate': migrateWithNodePgMigrate,
  drizzle: migrateWithDrizzle,
};

/**
 * The tables a tool keeps its history and lock in, schema-qualified for SQL (`"public"."knex_migrations"`),
 * given how it was run. Unqualified tools (Kysely, knex) are assumed to have used `public`.
 */
export function toolTables(tool: ForeignTool, options: ToolRunOptions = {}): readonly string[] {
  const q = (schema: string, table: string) => `"${schema}"."${table}"`;
  switch (tool) {
    case 'kysely': {
      const schema = options.schema ?? 'public';
      return [q(schema, options.table ?? 'kysely_migration'), q(schema, 'kysely_migration_lock')];
    }
    case 'knex': {
      const schema = options.schema ?? 'public';
      const table = options.table ?? 'knex_migrations';
      return [q(schema, table), q(schema, `${table}_lock`)];
    }
    case 'node-pg-migrate':
      return [q(options.schema ?? 'public', options.table ?? 'pgmigrations')];
    case 'drizzle':
      return [q(options.schema ?? 'drizzle', options.table ?? '__drizzle_migrations')];
  }
}

/**
 * Every row of the given tables with its `xmin` (which changes on any update, even one writing the same
 * values), or null for a table that does not exist: equal snapshots mean nobody wrote to them.
 */
export async function snapshotTables(
  db: Kysely<any>,
  tables: readonly string[],
): Promise<Record<string, readonly string[] | null>> {
  const snapshot: Record<string, readonly string[] | null> = {};
  for (const table of tables) {
    const { rows: exists } = await sql<{ oid: string | null }>`select to_regclass(${table})::text as oid`.execute(db);
    if (exists[0]?.oid == null) {
      snapshot[table] = null;
      continue;
    }
    const { rows } = await sql<{ row: string }>`
      select t.xmin::text || ' ' || to_jsonb(t)::text as row from ${sql.raw(table)} t order by 1`.execute(db);
    snapshot[table] = rows.map((r) => r.row);
  }
  return snapshot;
}

/** A temporary folder for a tool, empty but for Drizzle's empty journal: runs that only create the tool's tables. */
export async function emptyToolFolder(tool: ForeignTool): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `mig-${tool}-empty-`));
  if (tool === 'drizzle') {
    await mkdir(join(dir, 'meta'));
    await writeFile(
      join(dir, 'meta', '_journal.json'),
      JSON.stringify({ version: '7', dialect: 'postgresql', entries: [] }),
    );
  }
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** A temporary copy of a tool's fixture folder, to add or edit files without touching the fixture. */
export async function copyToolFixture(tool: ForeignTool): Promise<{ dir: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `mig-${tool}-`));
  await cp(FOREIGN_FIXTURES[tool], dir, { recursive: true });
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}
