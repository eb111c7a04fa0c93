import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@mig/config';
import { type Logger, MigErrorCode } from '@mig/core';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { catalogSnapshot } from '../../../test/support/catalog.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { copyToolFixture, migrateWithTool } from '../../kysely-adapter/test/support/foreign-tools.js';
import { createDatabase, type MigDatabase } from '../src/index.js';

// The one-call path as a service uses it: the environment decides, the packages do the rest. Each test gets
// a fresh PostgreSQL database and a fresh migrations folder.

interface Line {
  readonly level: 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function recordingLogger(): Logger & { lines: Line[]; text(): string } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: object, message?: string) =>
    lines.push({ level, fields: fields as Record<string, unknown>, message: message ?? '' });
  return {
    lines,
    debug() {},
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => lines.map((l) => `${l.level} ${l.message} ${JSON.stringify(l.fields)}`).join('\n'),
  };
}

const CREATE_TODOS = 'create table todos (id serial primary key, title text not null);\n';
const ADD_DONE = 'alter table todos add column done boolean not null default false;\n';

async function tables(database: TestDatabase): Promise<string[]> {
  const { rows } = await database.query<{ name: string }>(
    `select table_name as name from information_schema.tables where table_schema = 'public' order by 1`,
  );
  return rows.map((r) => r.name);
}

describe('createDatabase: the environment honoured by default', () => {
  let database: TestDatabase;
  let dir: string;
  let opened: MigDatabase<any>[] = [];
  /** DATABASE_URL with a password in it (trust auth ignores it): it must never reach a log line. */
  let url: string;

  const open = (env: Record<string, string>, logger = recordingLogger(), extra = {}) => {
    const db = createDatabase<any>({
      cwd: dir,
      env: { DATABASE_URL: url, ...env },
      logger,
      applicationName: 'service-test',
      ...extra,
    });
    opened.push(db);
    return { db, logger };
  };

  beforeAll(async () => {
    database = await createTestDatabase('service_env');
  });
  afterAll(async () => {
    await database.drop();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mig-service-'));
    await writeFile(join(dir, '001_todos.sql'), CREATE_TODOS);
    await writeFile(join(dir, '002_done.sql'), ADD_DONE);
    const parsed = new URL(database.url);
    parsed.password = 's3cret-pw';
    url = parsed.toString();
    await database.query('drop schema public cascade; create schema public');
  });
  afterEach(async () => {
    await Promise.all(opened.map((d) => d.close()));
    opened = [];
    await rm(dir, { recursive: true, force: true });
  });

  it('NODE_ENV unset: the first call applies the pending migrations from MIGRATIONS_DIR and resolves to Kysely', async () => {
    const { db, logger } = open({ MIGRATIONS_DIR: dir });
    const kysely = await db.ensureInitialized();
    await sql`insert into todos (title, done) values ('works', true)`.execute(kysely);
    expect(await tables(database)).toEqual(['mig_migrations', 'mig_migrations_head', 'mig_migrations_lock', 'todos']);
    expect(db.state()).toMatchObject({ phase: 'ready', migrations: 'applied', appliedHere: ['001_todos', '002_done'] });
    expect(await db.ensureInitialized()).toBe(kysely);

    // The configuration is logged once, at the first initialization, with its sources and the password masked.
    const configLines = logger.lines.filter((l) => l.message === 'mig configuration');
    expect(configLines).toHaveLength(1);
    const summary = configLines[0]?.fields.config as Record<string, { value: unknown; source: string }>;
    expect(summary.autoMigrate).toEqual({ value: true, source: 'default' });
    expect(summary.migrationsDir).toEqual({ value: dir, source: 'env' });
    expect(String(summary.databaseUrl?.value)).toContain(':***@');
    expect(logger.text()).not.toContain('s3cret-pw');
  });

  it('reads ./migrations from the working directory when MIGRATIONS_DIR is unset', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'mig-service-cwd-'));
    try {
      await mkdir(join(cwd, 'migrations'));
      await writeFile(join(cwd, 'migrations', '001_todos.sql'), CREATE_TODOS);
      const db = createDatabase<any>({ cwd, env: { DATABASE_URL: url }, logger: recordingLogger() });
      opened.push(db);
      await db.ensureInitialized();
      expect(await tables(database)).toContain('todos');
      expect(db.state().appliedHere).toEqual(['001_todos']);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('NODE_ENV=production: applies nothing, reports the pending ones with advice, and serves (warn)', async () => {
    const { db, logger } = open({ NODE_ENV: 'production', MIGRATIONS_DIR: dir });
    // It serves: the Kysely instance, usable, and the same one on every later call.
    const kysely = await db.ensureInitialized();
    expect((await sql<{ one: number }>`select 1 as one`.execute(kysely)).rows).toEqual([{ one: 1 }]);
    expect(await db.ensureInitialized()).toBe(kysely);
    expect(await tables(database)).toEqual([]);
    expect(db.state()).toMatchObject({ migrations: 'pending', pending: ['001_todos', '002_done'], serving: true });
    const pending = logger.lines.find((l) => l.fields.code === MigErrorCode.Pending);
    expect(pending?.level).toBe('warn');
    expect(String(pending?.fields.advice)).toContain('mig up');
    expect(String(pending?.fields.advice)).toContain('AUTO_MIGRATE=true');
  });

  it('NODE_ENV=production with onPending refuse: rejects, and applies nothing', async () => {
    await writeFile(join(dir, '.migrc.json'), JSON.stringify({ onPending: 'refuse' }));
    const { db } = open({ NODE_ENV: 'production', MIGRATIONS_DIR: dir });
    await expect(db.ensureInitialized()).rejects.toMatchObject({ code: MigErrorCode.Pending });
    expect(await tables(database)).toEqual([]);
    expect(db.state()).toMatchObject({ phase: 'failed', healthy: false });
  });

  it('NODE_ENV=production with AUTO_MIGRATE=true: applies them', async () => {
    const { db } = open({ NODE_ENV: 'production', AUTO_MIGRATE: 'true', MIGRATIONS_DIR: dir });
    await db.ensureInitialized();
    expect(await tables(database)).toContain('todos');
    expect(db.state().appliedHere).toEqual(['001_todos', '002_done']);
  });

  it('NODE_ENV=staging is not development: nothing is applied', async () => {
    const { db } = open({ NODE_ENV: 'staging', MIGRATIONS_DIR: dir });
    await db.ensureInitialized();
    expect(await tables(database)).toEqual([]);
    expect(db.state().migrations).toBe('pending');
  });

  it('MIGRATION_DRY_RUN=true: logs the plan with its SQL and writes nothing, not even its own tables', async () => {
    const before = await catalogSnapshot((text) => database.query(text));
    const { db, logger } = open({ MIGRATION_DRY_RUN: 'true', MIGRATIONS_DIR: dir });
    await db.ensureInitialized();
    expect(await catalogSnapshot((text) => database.query(text))).toBe(before);
    expect(db.state().migrations).toBe('dry-run');
    expect(db.state().planned.map((p) => p.name)).toEqual(['001_todos', '002_done']);
    expect(logger.text()).toContain('create table todos');
  });

  it('a bad value is a ConfigError naming the variable, the value and the accepted form, before any connection', async () => {
    // Port 1: nothing listens there, so any connection attempt would fail with a connection error instead.
    const { db, logger } = open({
      DATABASE_URL: 'postgres://app@127.0.0.1:1/shop',
      MIGRATION_LOCK_TIMEOUT: 'soon',
      AUTO_MIGRATE: 'maybe',
    });
    const error = await db.ensureInitialized().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('MIGRATION_LOCK_TIMEOUT');
    expect((error as Error).message).toContain('"soon"');
    expect((error as Error).message).toMatch(/30s|5m|duration/);
    expect((error as Error).message).toContain('AUTO_MIGRATE');
    // The same error again, at once, without touching anything.
    await expect(db.ensureInitialized()).rejects.toBe(error);
    expect(logger.text()).not.toContain('connect');
  });

  it('no DATABASE_URL and no default: says what to set', async () => {
    const db = createDatabase({ cwd: dir, env: {}, logger: recordingLogger() });
    opened.push(db);
    await expect(db.ensureInitialized()).rejects.toThrow(/DATABASE_URL/);
  });

  it('warm: reads the configuration and fills the status cache in the background, and never migrates', async () => {
    const logger = recordingLogger();
    const db = createDatabase<any>({ cwd: dir, env: { DATABASE_URL: url, MIGRATIONS_DIR: dir }, logger, warm: true });
    opened.push(db);
    await db.warm();
    expect(await tables(database)).toEqual([]);
    const report = db.report();
    expect(report.state).toMatchObject({ phase: 'idle', pending: ['001_todos', '002_done'] });
    expect(report.cache).toMatchObject({ loads: 1, size: 1 });
    expect(logger.lines.filter((l) => l.message === 'mig configuration')).toHaveLength(1);
    // The first call finds the status in the cache and migrates, by policy.
    await db.ensureInitialized();
    expect(db.state().appliedHere).toEqual(['001_todos', '002_done']);
    expect(db.report().cache).toMatchObject({ loads: 1 });
  });

  it('report(): the state, the cache statistics and the configuration with its sources', async () => {
    const { db } = open({ MIGRATIONS_DIR: dir, MIGRATION_CACHE_TTL: '2m' });
    expect(db.report()).toMatchObject({ where: null, cache: null, config: null, state: { phase: 'idle' } });
    await db.ensureInitialized();
    const report = db.report();
    expect(report.where).toContain(database.name);
    expect(report.engine).toBe('postgres');
    expect(report.config?.values.cacheTtlMs).toEqual({ value: 120_000, source: 'env' });
    expect(report.cache).toMatchObject({ size: 1 });
    expect(JSON.stringify(report)).not.toContain('s3cret-pw');
  });
});

describe('createDatabase on a database another tool migrated', () => {
  it('reports the foreign history and the command to run, and never applies the migrations again', async () => {
    const database = await createTestDatabase('service_foreign');
    const folder = await copyToolFixture('kysely');
    try {
      await migrateWithTool.kysely(database.url, folder.dir);
      const warn = recordingLogger();
      const serving = createDatabase<any>({
        cwd: folder.dir,
        env: { DATABASE_URL: database.url, MIGRATIONS_DIR: folder.dir },
        logger: warn,
      });
      await serving.ensureInitialized(); // NODE_ENV unset: auto-migrate on, yet nothing is applied
      expect(serving.state()).toMatchObject({
        phase: 'ready',
        migrations: 'pending',
        foreignHistories: [{ tool: 'kysely', table: 'public.kysely_migration', applied: 3 }],
      });
      const line = warn.lines.find((l) => l.fields.code === MigErrorCode.ForeignHistory);
      expect(String(line?.fields.advice)).toContain('mig adopt --from kysely');
      const { rows } = await database.query(`select to_regclass('public.mig_migrations')::text as t`);
      expect(rows[0].t).toBeNull();
      await serving.close();

      await writeFile(join(folder.dir, '.migrc.json'), JSON.stringify({ onPending: 'refuse' }));
      const refusing = createDatabase<any>({
        cwd: folder.dir,
        env: { DATABASE_URL: database.url, MIGRATIONS_DIR: folder.dir },
        logger: recordingLogger(),
      });
      await expect(refusing.ensureInitialized()).rejects.toMatchObject({ code: MigErrorCode.ForeignHistory });
      await refusing.close();
    } finally {
      await folder.dispose();
      await database.drop();
    }
  });
});

describe('createDatabase on PGlite', () => {
  it('runs on pglite:DIR (defaultUrl) with no DATABASE_URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mig-service-pglite-'));
    await writeFile(join(dir, '001_todos.sql'), CREATE_TODOS);
    const db = createDatabase<any>({
      cwd: dir,
      env: { MIGRATIONS_DIR: dir },
      defaultUrl: `pglite:${join(dir, 'data')}`,
      logger: recordingLogger(),
    });
    try {
      const kysely = await db.ensureInitialized();
      await sql`insert into todos (title) values ('embedded')`.execute(kysely);
      const { rows } = await sql<{ n: string }>`select count(*) as n from todos`.execute(kysely);
      expect(rows[0]?.n).toBe('1');
      expect(db.report()).toMatchObject({ engine: 'pglite', where: `PGlite ${join(dir, 'data')}` });
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
