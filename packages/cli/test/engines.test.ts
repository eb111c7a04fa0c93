import { promises as fs } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FileMigrationProvider, Kysely, Migrator, MysqlDialect, SqliteDialect } from 'kysely';
import { createPool } from 'mysql2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCATIONS, type Location } from './locations.js';
import { CLI, mig, type Workspace, workspace } from './support.js';

// Every command on the engines beside PostgreSQL (whose own suite is cli.test.ts), with the same portable
// migrations: PGlite from the command line on a data directory an app would use, a SQLite file, a local libSQL
// file, MariaDB, and PostgreSQL through Neon's serverless driver (a neon:// URL, over a WebSocket proxy of the
// test process; a neon+https:// URL, through a local endpoint of the test process that speaks Neon's HTTP protocol).

const MIGRATIONS = {
  '001_todos.sql':
    'create table todos (id integer primary key, title text not null);\n-- mig:down\ndrop table todos;\n',
  '002_done.sql':
    'alter table todos add column done boolean not null default false;\n-- mig:down\nalter table todos drop column done;\n',
};

const ENGINES: Record<string, () => Promise<Location>> = {
  pglite: LOCATIONS.pglite,
  sqlite: LOCATIONS.sqlite,
  libsql: LOCATIONS.libsql,
  'libsql over HTTP': LOCATIONS['libsql-http'],
  mariadb: LOCATIONS.mariadb,
  neon: LOCATIONS.neon,
  d1: LOCATIONS.d1,
  'neon-http': LOCATIONS['neon-http'],
};

const names = (list: Array<{ name: string }>) => list.map((m) => m.name);

describe.each(Object.keys(ENGINES))('the mig command on %s', (engine) => {
  let where: Location;
  let ws: Workspace;
  const run = (args: string[]) =>
    mig(args, {
      cwd: where.cwd ?? ws.dir,
      env: { DATABASE_URL: where.url, MIGRATIONS_DIR: ws.migrations, ...where.env },
    });

  beforeEach(async () => {
    where = await ENGINES[engine]!();
    ws = await workspace(MIGRATIONS);
  });
  afterEach(async () => {
    await where.drop();
    await ws.dispose();
  });

  it('status, up, verify, down and unlock, each with its exit code', { timeout: 180_000 }, async () => {
    const pending = await run(['status', '--json']);
    expect(pending.code, pending.stderr).toBe(0);
    expect(pending.json()).toMatchObject({ state: 'pending', pending: ['001_todos', '002_done'], applied: [] });
    // The server named as it names itself, not by the protocol's name.
    if (engine === 'mariadb') expect(pending.json().database).toMatch(/^MariaDB \d+\.\d+ /);
    expect((await run(['status', '--fail-on-pending'])).code).toBe(5);

    const up = await run(['up', '--json']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(names(up.json().results)).toEqual(['001_todos', '002_done']);
    expect(names((await run(['status', '--json'])).json().applied)).toEqual(['001_todos', '002_done']);
    expect((await run(['up', '--json'])).json().results).toEqual([]);
    expect((await run(['verify'])).code).toBe(0);

    const down = await run(['down', '--json']);
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(names(down.json().results)).toEqual(['002_done']);
    expect(names((await run(['status', '--json'])).json().applied)).toEqual(['001_todos']);

    const unlock = await run(['unlock', '--json']);
    expect(unlock.code, unlock.stderr).toBe(0);
    expect(unlock.json()).toMatchObject({ lease: { holder: null }, advisory: { holder: null } });
    expect(await where.tables()).toEqual(expect.arrayContaining(['todos', 'mig_migrations']));
  });

  it('reports an edited applied file as drift (exit 4)', { timeout: 180_000 }, async () => {
    expect((await run(['up'])).code).toBe(0);
    await ws.write('001_todos.sql', `${MIGRATIONS['001_todos.sql']}-- edited\n`);
    const verify = await run(['verify', '--json']);
    expect(verify.code).toBe(4);
    expect(verify.json().problems).toEqual([expect.objectContaining({ kind: 'changed', name: '001_todos' })]);
  });

  it('a dry run shows the plan and writes nothing, not even mig tables', { timeout: 180_000 }, async () => {
    const dry = await run(['up', '--dry-run']);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout + dry.stderr).toContain('001_todos');
    expect(await where.tables()).toEqual([]);
  });

  it('create writes a new migration file', { timeout: 60_000 }, async () => {
    const created = await run(['create', 'add_tags', '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.json().file).toMatch(/migrations\/\d{14}_add_tags\.sql$/);
  });
});

/** Kysely's own dialect on a mig URL of MariaDB or SQLite, as an app on Kysely's Migrator would have it. */
function kyselyOn(url: string): Kysely<any> {
  if (url.startsWith('sqlite:')) {
    return new Kysely({ dialect: new SqliteDialect({ database: new Database(url.slice('sqlite:'.length)) }) });
  }
  return new Kysely({ dialect: new MysqlDialect({ pool: createPool({ uri: url.replace(/^mariadb:/, 'mysql:') }) }) });
}

const KYSELY_MIGRATIONS = {
  '20240101000000_users.mjs':
    "export async function up(db) { await db.schema.createTable('k_users').addColumn('id', 'integer', (c) => c.primaryKey()).execute(); }\n" +
    "export async function down(db) { await db.schema.dropTable('k_users').execute(); }\n",
  '20240102000000_posts.mjs':
    "export async function up(db) { await db.schema.createTable('k_posts').addColumn('id', 'integer', (c) => c.primaryKey()).execute(); }\n" +
    "export async function down(db) { await db.schema.dropTable('k_posts').execute(); }\n",
};

describe.each(['sqlite', 'mariadb'])("switching from Kysely's Migrator on %s", (engine) => {
  it('adopts its history, then applies and reverts as mig', { timeout: 180_000 }, async () => {
    const where = await ENGINES[engine]!();
    const ws = await workspace({});
    try {
      for (const [file, text] of Object.entries(KYSELY_MIGRATIONS)) await writeFile(join(ws.migrations, file), text);
      const db = kyselyOn(where.url);
      try {
        const provider = new FileMigrationProvider({ fs, path, migrationFolder: ws.migrations });
        const { error } = await new Migrator({ db, provider }).migrateToLatest();
        expect(error).toBeUndefined();
      } finally {
        await db.destroy();
      }
      const run = (args: string[]) => mig(args, { cwd: ws.dir, env: { DATABASE_URL: where.url } });
      const refused = await run(['up']);
      expect(refused.code, refused.stdout + refused.stderr).toBe(4);
      expect(refused.stdout).toContain('mig adopt --from kysely');

      const adopt = await run(['adopt', '--from', 'kysely', '--json']);
      expect(adopt.code, adopt.stdout + adopt.stderr).toBe(0);
      expect((await run(['adopt', '--from', 'kysely'])).code).toBe(0); // again: nothing new
      await ws.write(
        '20240103000000_tags.sql',
        'create table k_tags (id integer primary key);\n-- mig:down\ndrop table k_tags;\n',
      );
      const up = await run(['up', '--json']);
      expect(up.code, up.stdout + up.stderr).toBe(0);
      expect(names(up.json().results)).toEqual(['20240103000000_tags']);
      const status = (await run(['status', '--json'])).json();
      expect(status.applied.map((m: { name: string; origin: string }) => [m.name, m.origin])).toEqual([
        ['20240101000000_users', 'adopted'],
        ['20240102000000_posts', 'adopted'],
        ['20240103000000_tags', 'applied'],
      ]);
      // Kysely's files are mig's too: down reverts them.
      const down = await run(['down', '--to', '20240101000000_users', '--json']);
      expect(down.code, down.stdout + down.stderr).toBe(0);
      expect(names(down.json().results)).toEqual(['20240103000000_tags', '20240102000000_posts']);
      expect(await where.tables()).toEqual(expect.arrayContaining(['k_users', 'kysely_migration']));
      expect(await where.tables()).not.toContain('k_posts');
    } finally {
      await ws.dispose();
      await where.drop();
    }
  });
});

describe('a database URL whose driver is not installed', () => {
  it('is an error naming the package to install', { timeout: 60_000 }, async () => {
    // The bundled command alone, where no driver can be found: the URL's driver is loaded on first use.
    const dir = await mkdtemp(join(tmpdir(), 'mig-cli-nodriver-'));
    try {
      await copyFile(CLI, join(dir, 'mig.mjs'));
      const ws = await workspace(MIGRATIONS);
      try {
        for (const [url, driver] of [
          ['sqlite:./app.db', 'better-sqlite3'],
          ['mysql://root@127.0.0.1:3306/nowhere', 'mysql2'],
        ] as const) {
          const { runNode } = await import('../../../test/support/processes.js');
          const result = await runNode(join(dir, 'mig.mjs'), ['status', '--url', url], {
            cwd: ws.dir,
            env: { NO_COLOR: '1', DATABASE_URL: '' },
            timeoutMs: 30_000,
          });
          expect(result.code, result.stdout + result.stderr).toBe(2);
          expect(result.stdout + result.stderr).toContain(`npm install ${driver}`);
        }
      } finally {
        await ws.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
