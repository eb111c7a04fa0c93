import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PG_ADMIN_URL } from '../../../test/support/postgres.js';
import { LOCATIONS, type Location } from './locations.js';
import { CLI, mig, startNode, type Workspace, workspace } from './support.js';

// Messages that tell the truth, in the situations where they used to mislead: what an interrupted run left,
// a session ended from outside, a file locked by a writer that is not mig, a URL at the wrong server or naming
// no database, a dry run with nothing to do or that cannot plan, secrets in an import error, and advice that
// names a setting as it was set.

let where: Location | undefined;
let ws: Workspace | undefined;

afterEach(async () => {
  await where?.drop();
  await ws?.dispose();
  where = undefined;
  ws = undefined;
});

const run = (args: string[], env: Record<string, string> = {}) => mig(args, { cwd: ws?.dir ?? '', env });

describe('what an earlier, interrupted run left', () => {
  it('on MariaDB, the next run of the migration says how far the stopped one got, and mig status lists it', {
    timeout: 90_000,
  }, async () => {
    where = await LOCATIONS.mariadb();
    // DDL that MySQL commits as it runs, then a long statement the run is stopped in.
    ws = await workspace({
      '001_half.sql': 'create table t_half (id int);\nselect sleep(30);\ncreate table t_other (id int);\n',
    });
    const up = startNode(CLI, ['up'], { cwd: ws.dir, env: { DATABASE_URL: where.url, NO_COLOR: '1' } });
    for (let i = 0; ; i++) {
      const running = await where.rows(
        "select id from information_schema.processlist where info like 'select sleep(30)%'",
      );
      if (running.length > 0) break;
      if (i > 300) throw new Error('the migration never reached its second statement');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    up.child.kill('SIGTERM');
    const stopped = await up.done;
    expect(stopped.code, stopped.stderr).toBe(143);
    expect(await where.tables()).toContain('t_half');

    const again = await run(['up'], { DATABASE_URL: where.url });
    expect(again.code).toBe(1);
    const said = again.stdout + again.stderr;
    expect(said).toMatch(/Table 't_half' already exists/);
    expect(said).toContain('no statement had run before it, so nothing took effect in this run');
    expect(said).toMatch(
      /An earlier run of it, started [^,]+, was stopped after 1 statement\(s\) had taken effect \(up to line 1: "create table t_half \(id int\)"\)/,
    );
    // A second failed run keeps what the first one left: its statement is still in effect.
    const status = await run(['status'], { DATABASE_URL: where.url });
    expect(status.stdout).toMatch(
      /unfinished run of 001_half: 1 statement\(s\) in effect, from a run started [^;]+; undo what those statements did/,
    );
  });
});

describe('a session ended from outside', () => {
  it('is not called the migration’s fault: the message says to run again, not to fix it', {
    timeout: 60_000,
  }, async () => {
    where = await LOCATIONS.postgres();
    ws = await workspace({ '001_slow.sql': 'create table t_slow (id int);\nselect pg_sleep(30);\n' });
    const up = startNode(CLI, ['up', '--json'], { cwd: ws.dir, env: { DATABASE_URL: where.url, NO_COLOR: '1' } });
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      for (let i = 0; ; i++) {
        const { rows } = await admin.query(
          "select pg_terminate_backend(pid) as ended from pg_stat_activity where query like '%pg_sleep(30)%' and pid <> pg_backend_pid()",
        );
        if (rows.length > 0) break;
        if (i > 300) throw new Error('the migration never started');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await admin.end();
    }
    const result = await up.done;
    expect(result.code).toBe(1);
    const { error } = JSON.parse(result.stdout);
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('ended from outside');
    expect(error.message).not.toContain('Fix the migration');
    // Rolled back with its transaction: mig's own tables only.
    expect(await where.tables()).toEqual(['mig_migrations', 'mig_migrations_head', 'mig_migrations_lock']);
  });
});

describe('a SQLite file whose write lock another program holds', () => {
  it('times out naming a writer that is not a mig instance', { timeout: 60_000 }, async () => {
    where = await LOCATIONS.sqlite();
    ws = await workspace({ '001_todos.sql': 'create table todos (id integer primary key);\n' });
    const url = where.url;
    // mig's tables first, then a writer outside mig that keeps the file's write lock.
    expect((await run(['up'], { DATABASE_URL: url })).code).toBe(0);
    await ws.write('002_more.sql', 'create table more (id integer primary key);\n');
    const writer = new Database(url.slice('sqlite:'.length));
    writer.prepare('begin immediate').run();
    try {
      const up = await run(['up', '--lock-timeout', '1s'], { DATABASE_URL: url });
      expect(up.code).toBe(3);
      const said = up.stdout + up.stderr;
      expect(said).toContain("a connection writing to the database file (it holds the file's write lock");
      expect(said).toContain('That is not a mig instance');
      expect(said).not.toContain('Another instance is probably migrating');
    } finally {
      writer.prepare('rollback').run();
      writer.close();
    }
  });
});

describe('URLs', () => {
  it('a mysql:// URL at a server that is not MySQL fails at the greeting, saying so, in seconds', async () => {
    ws = await workspace({ '001_a.sql': 'select 1;\n' });
    const started = Date.now();
    const status = await run(['status'], { DATABASE_URL: 'mysql://root@127.0.0.1:5432/test' });
    expect(Date.now() - started).toBeLessThan(9_000);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('it is not a MySQL or MariaDB server');
    expect(status.stderr).not.toMatch(/\.\./);
  });

  it('a PostgreSQL URL that names no database is an error, not a silent connection to another one', async () => {
    ws = await workspace({ '001_a.sql': 'select 1;\n' });
    const status = await run(['status'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432' });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('The PostgreSQL URL names no database');
  });

  it('advice names the config file key when the file set the URL, not DATABASE_URL', async () => {
    ws = await workspace({ '001_a.sql': 'select 1;\n' });
    await writeFile(
      join(ws.dir, 'mig.config.json'),
      JSON.stringify({ databaseUrl: 'postgres://postgres@127.0.0.1:1/x' }),
    );
    const status = await run(['status']);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('hint: Check databaseUrl in mig.config.json');
    expect(status.stderr).not.toContain('DATABASE_URL');
  });
});

describe('dry runs and imports', () => {
  it('mig down --dry-run says why there is nothing to revert, and shows an error it meets', async () => {
    where = await LOCATIONS.sqlite();
    ws = await workspace({ '001_a.sql': 'create table a (id int);\n-- mig:down\ndrop table a;\n' });
    const env = { DATABASE_URL: where.url };
    const nothing = await run(['down', '--dry-run'], env);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toMatch(/^Nothing to revert: no migration is applied in SQLite /);
    expect((await run(['up'], env)).code).toBe(0);
    await ws.write('001_a.sql', 'create table a (id int, b int);\n-- mig:down\ndrop table a;\n');
    const drift = await run(['down', '--dry-run'], env);
    expect(drift.code).toBe(4);
    expect(drift.stdout).toContain('"001_a" was changed after it was applied');
  });

  it('redacts a password in the error a migration module throws as it is imported', async () => {
    where = await LOCATIONS.sqlite();
    ws = await workspace({
      '001_bad.mjs': "throw new Error('cannot reach postgres://app:s3cret-pw@db.internal:5432/app');\n",
    });
    const up = await run(['up'], { DATABASE_URL: where.url });
    expect(up.code).toBe(2);
    expect(up.stdout + up.stderr).toContain('Cannot load migration "001_bad"');
    expect(up.stdout + up.stderr).not.toContain('s3cret-pw');
  });
});
