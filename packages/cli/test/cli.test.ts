import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { mig, startNode, type Workspace, workspace } from './support.js';

const HOLD_LOCK = fileURLToPath(new URL('../../../test/fixtures/hold-lock.mjs', import.meta.url));

const MIGRATIONS = {
  '001_todos.sql': 'create table todos (id serial primary key, title text not null);\n-- mig:down\ndrop table todos;\n',
  '002_done.sql':
    'alter table todos add column done boolean not null default false;\n-- mig:down\nalter table todos drop column done;\n',
};

describe('the mig command', () => {
  let database: TestDatabase;
  let ws: Workspace;
  const run = (args: string[], env: Record<string, string> = {}) =>
    mig(args, { cwd: ws.dir, env: { DATABASE_URL: database.url, ...env } });

  beforeEach(async () => {
    database = await createTestDatabase('cli');
    ws = await workspace(MIGRATIONS);
  });
  afterEach(async () => {
    await database.drop();
    await ws.dispose();
  });

  it('prints help with examples and the exit codes', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 done, 1 a migration failed, 2 bad usage or configuration');
    for (const command of ['status', 'up', 'down', 'create', 'verify', 'unlock']) {
      const sub = await run([command, '--help']);
      expect(sub.code, command).toBe(0);
      expect(sub.stdout, command).toMatch(/Examples:\n {2}\$ mig /);
    }
    const bare = await run([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: mig');
  });

  it('rejects an unknown command or flag with exit 2 and a suggestion', async () => {
    const command = await run(['stauts']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'stauts'");
    expect(command.stderr).toContain('Did you mean status?');
    const flag = await run(['up', '--dry-rn']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--dry-rn'");
    expect(flag.stderr).toContain('Did you mean --dry-run?');
    const strategy = await run(['up', '--lock-strategy', 'mutex']);
    expect(strategy.code).toBe(2);
    expect(strategy.stderr).toContain('Allowed choices are advisory, lease');
  });

  it('status lists pending migrations; --fail-on-pending exits 5; --json is one document', async () => {
    const status = await run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('Pending (2)');
    expect(status.stdout).toContain('001_todos');
    const pending = await run(['status', '--fail-on-pending', '--json']);
    expect(pending.code).toBe(5);
    expect(pending.json()).toMatchObject({
      ok: false,
      exitCode: 5,
      state: 'pending',
      pending: ['001_todos', '002_done'],
      applied: [],
    });
  });

  it('up applies each migration, showing it as it runs; status then lists when and how long', async () => {
    const up = await run(['up']);
    expect(up.code).toBe(0);
    expect(up.stderr).toMatch(/→ applying 001_todos …\n✓ applied 001_todos \(\d+ ms\)\n→ applying 002_done/);
    expect(up.stdout).toMatch(/Applied 2 migrations in \d+ ms\./);
    const again = await run(['up', '--json']);
    expect(again.json()).toMatchObject({ ok: true, exitCode: 0, direction: 'up', results: [], state: 'up-to-date' });
    const status = await run(['status', '--json']);
    const doc = status.json();
    expect(doc.state).toBe('up-to-date');
    expect(doc.applied.map((m: { name: string }) => m.name)).toEqual(['001_todos', '002_done']);
    expect(Date.parse(doc.applied[0].appliedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(typeof doc.applied[0].durationMs).toBe('number');
    expect((await run(['status'])).stdout).toContain('Status  up to date');
  });

  it('up --json reports a result per migration', async () => {
    const up = await run(['up', '--json']);
    expect(up.code).toBe(0);
    const doc = up.json();
    expect(doc.results.map((r: { name: string; status: string }) => [r.name, r.status])).toEqual([
      ['001_todos', 'applied'],
      ['002_done', 'applied'],
    ]);
    // Nobody else held the lock: no wait worth the name (the other test, below, holds it for a known time).
    expect(typeof doc.lockWaitMs).toBe('number');
    expect(doc.lockWaitMs).toBeLessThan(1_000);
  });

  it('up --json reports the time it waited for a lock another instance held', async () => {
    // The holder keeps the advisory lock for 1.5 s after it says so; `mig up` starts right after that.
    const holder = startNode(HOLD_LOCK, [database.url, '1500']);
    await holder.waitFor(/held/);
    const up = await run(['up', '--json', '--lock-timeout', '30s']);
    await holder.done;
    expect(up.code).toBe(0);
    const doc = up.json();
    expect(doc.results.map((r: { status: string }) => r.status)).toEqual(['applied', 'applied']);
    // It waited for the holder to let go, and reported that wait, not zero.
    expect(doc.lockWaitMs).toBeGreaterThanOrEqual(500);
    expect(doc.lockWaitMs).toBeLessThan(30_000);
  });

  it('up --dry-run prints the plan and its SQL and writes nothing', async () => {
    const dry = await run(['up', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('Dry run: would apply 2 migration(s)');
    expect(dry.stdout).toContain('create table todos (id serial primary key, title text not null)');
    const { rows } = await database.query(
      `select count(*)::int as n from information_schema.tables where table_schema = 'public'`,
    );
    expect(rows[0].n).toBe(0);
    const viaEnv = await run(['up', '--json'], { MIGRATION_DRY_RUN: 'true' });
    expect(viaEnv.json()).toMatchObject({ dryRun: true, results: [{ status: 'planned' }, { status: 'planned' }] });
  });

  it('exits 1 when a migration fails, naming it and the cause', async () => {
    await ws.write('003_broken.sql', 'select 1 / 0;\n');
    const up = await run(['up', '--json']);
    expect(up.code).toBe(1);
    expect(up.json()).toMatchObject({
      ok: false,
      exitCode: 1,
      error: { code: 'MIGRATION_FAILED', message: expect.stringContaining('"003_broken": division by zero') },
    });
    expect(up.stderr).toContain('✗ failed   003_broken');
  });

  it('a failed run prints the failure once, in whole sentences, and says what was and was not applied', async () => {
    await ws.write('003_broken.sql', 'select 1 / 0;\n');
    await ws.write('004_later.sql', 'create table later (id int);\n');
    const up = await run(['up']);
    expect(up.code).toBe(1);
    const all = `${up.stdout}\n${up.stderr}`;
    // The cause appears once (not also as a log line), and no sentence runs into another.
    expect(all.match(/division by zero/g)).toHaveLength(1);
    expect(all).not.toMatch(/\.\./);
    expect(up.stdout).toContain(
      'Failed to apply migration "003_broken": division by zero. Its changes and its record were rolled back.',
    );
    expect(up.stdout).toContain(
      'Failed after applying 2 migrations:\n  001_todos\n  002_done\n003_broken failed and was not applied.\nNot run (1):\n  004_later',
    );
    expect(up.stdout).not.toMatch(/^Applied \d/m);
    const { rows } = await database.query('select name from mig_migrations order by id');
    expect(rows.map((r) => r.name)).toEqual(['001_todos', '002_done']);
  });

  it('up --single-transaction applies all or nothing, and says which migration failed', async () => {
    await ws.write('003_broken.sql', 'select 1 / 0;\n');
    const failed = await run(['up', '--single-transaction']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('Failed to apply migration "003_broken": division by zero.');
    expect(failed.stdout).toContain('in one transaction with 2 other pending migration(s)');
    const { rows } = await database.query(
      "select count(*)::int as n from information_schema.tables where table_name in ('todos', 'mig_migrations')",
    );
    expect(rows[0]?.n).toBe(1); // mig's own table only: todos was rolled back with the rest
    await ws.write('003_broken.sql', 'select 1;\n');
    const applied = await run(['up', '--single-transaction', '--json']);
    expect(applied.code).toBe(0);
    expect(applied.json()).toMatchObject({
      ok: true,
      results: [{ status: 'applied' }, { status: 'applied' }, { status: 'applied' }],
    });
  });

  it('a TypeScript migration left as its template fails, saying so once, and is not recorded', async () => {
    const created = await run(['create', 'fill_me', '--ts']);
    expect(created.code).toBe(0);
    const up = await run(['up']);
    expect(up.code).toBe(1);
    expect(`${up.stdout}${up.stderr}`.match(/Write migration fill_me before applying it/g)).toHaveLength(1);
    expect(up.stdout).toMatch(/Failed after applying 2 migrations:\n {2}001_todos\n {2}002_done\n\d+_fill_me failed/);
    const { rows } = await database.query('select count(*)::int as n from mig_migrations');
    expect(rows[0].n).toBe(2);
  });

  it('takes its settings from --url, --config and --migrations, and up --to stops where it is told', async () => {
    const elsewhere = await workspace({ '001_only.sql': 'create table only_here (id int);\n' });
    try {
      // --url wins over DATABASE_URL, which points at nothing here.
      const viaUrl = await mig(['status', '--json', '--url', database.url], {
        cwd: ws.dir,
        env: { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      });
      expect(viaUrl.code, viaUrl.stderr).toBe(0);
      expect(viaUrl.json()).toMatchObject({ pending: ['001_todos', '002_done'] });

      // --config names a file that sets the migrations folder (relative to the file) and the lock strategy.
      await writeFile(
        join(ws.dir, 'custom.config.json'),
        JSON.stringify({ migrationsDir: relative(ws.dir, elsewhere.migrations), lockStrategy: 'lease' }),
      );
      const viaConfig = await run(['up', '--json', '--config', 'custom.config.json']);
      expect(viaConfig.code, viaConfig.stderr).toBe(0);
      expect(viaConfig.json().results.map((r: { name: string }) => r.name)).toEqual(['001_only']);
      const lock = await database.query('select key, owner from mig_migrations_lock');
      expect(lock.rows).toEqual([{ key: 'public.mig_migrations', owner: null }]); // the lease, released

      // --to on a fresh database: the first migration only; then the rest.
      const other = await createTestDatabase('cli_to');
      try {
        const to = await mig(['up', '--to', '001_todos', '--url', other.url, '--lock-strategy', 'lease'], {
          cwd: ws.dir,
        });
        expect(to.code, to.stderr).toBe(0);
        expect(to.stdout).toContain('Applied 1 migration in');
        expect(to.stdout).toContain('1 still pending (stopped at --to)');
        const rest = await mig(['up', '--json', '--url', other.url], { cwd: ws.dir });
        expect(rest.json().results.map((r: { name: string }) => r.name)).toEqual(['002_done']);
      } finally {
        await other.drop();
      }
    } finally {
      await elsewhere.dispose();
    }
  });

  it('exits 2 on bad configuration, naming the variable, the value and what is accepted', async () => {
    const env = await run(['up'], { MIGRATION_LOCK_TIMEOUT: '-5s' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('MIGRATION_LOCK_TIMEOUT');
    expect(env.stderr).toContain('-5s');
    const flag = await run(['up', '--lock-timeout', 'soon']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('soon');
    const noUrl = await mig(['status'], { cwd: ws.dir });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('No database to connect to: set DATABASE_URL, pass --url');
    const noFolder = await run(['status', '--migrations', 'nope']);
    expect(noFolder.code).toBe(2);
    expect(noFolder.stderr).toContain('does not exist');
  });

  it('follows an error with advice naming the setting to change, once', async () => {
    const status = await run(['status', '--migrations', 'nope']);
    expect(status.code).toBe(2);
    // The advice names the setting as it was set: here the flag.
    expect(status.stderr).toMatch(/error: The migrations folder \S*nope does not exist.*\nhint: Point --migrations at/);
    expect(status.stderr.match(/hint:/g)).toHaveLength(1);
    const up = await run(['up'], { MIGRATIONS_DIR: 'nope' });
    expect(up.code).toBe(2);
    expect(`${up.stdout}${up.stderr}`.match(/hint: Point MIGRATIONS_DIR/g)).toHaveLength(1);
    const json = await run(['up', '--json'], { MIGRATIONS_DIR: 'nope' });
    expect(json.json().error).toMatchObject({
      code: 'INVALID_SOURCE',
      advice: expect.stringContaining('MIGRATIONS_DIR'),
    });
  });

  it('exits 1 when the database cannot be reached, without printing the password', async () => {
    const result = await run(['status', '--json'], { DATABASE_URL: 'postgres://app:s3cret-pw@127.0.0.1:1/shop' });
    expect(result.code).toBe(1);
    expect(result.json().error.code).toBe('CONNECT_FAILED');
    expect(result.stdout + result.stderr).not.toContain('s3cret-pw');
    expect(result.stderr).toContain('127.0.0.1:1');
  });

  it('exits 3 when the lock is held longer than --lock-timeout, saying who holds it', async () => {
    const holder = startNode(HOLD_LOCK, [database.url, '5000']);
    await holder.waitFor(/held/);
    const up = await run(['up', '--lock-timeout', '700ms']);
    expect(up.code).toBe(3);
    expect(up.stderr).toContain('waiting for the migration lock');
    expect(up.stderr).toContain('application "lock-holder"');
    expect(up.stdout).toMatch(/Timed out after \d+ ms waiting for the migration lock/);
    holder.child.kill();
    await holder.done;
  });

  it('verify exits 4 naming an edited applied file, and 5 when migrations are pending', async () => {
    expect((await run(['verify'])).code).toBe(5);
    await run(['up']);
    const ok = await run(['verify']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('2 applied migration(s) match the files');
    await ws.write('001_todos.sql', `${MIGRATIONS['001_todos.sql']}-- edited\n`);
    const verify = await run(['verify', '--json']);
    expect(verify.code).toBe(4);
    expect(verify.json().problems).toEqual([
      expect.objectContaining({
        kind: 'changed',
        name: '001_todos',
        message: expect.stringContaining('was changed after it was applied'),
      }),
    ]);
    expect((await run(['status'])).code).toBe(4);
  });

  it('down reverts the last migration, or every one after --to', async () => {
    await ws.write('003_tags.sql', 'create table tags (id int);\n-- mig:down\ndrop table tags;\n');
    await run(['up']);
    const one = await run(['down', '--json']);
    expect(one.code).toBe(0);
    expect(one.json().results.map((r: { name: string }) => r.name)).toEqual(['003_tags']);
    const to = await run(['down', '--to', '001_todos']);
    expect(to.code).toBe(0);
    expect(to.stderr).toContain('← reverting 002_done');
    expect((await run(['status', '--json'])).json().applied.map((m: { name: string }) => m.name)).toEqual([
      '001_todos',
    ]);
    const unknown = await run(['down', '--to', 'nope']);
    expect(unknown.code).toBe(2);
  });

  it('create writes a timestamped SQL or TypeScript file with a template', async () => {
    const sql = await run(['create', 'add_users_email', '--json']);
    expect(sql.code).toBe(0);
    const file = sql.json().file as string;
    expect(file).toMatch(/migrations\/\d{14}_add_users_email\.sql$/);
    expect(await readFile(file, 'utf8')).toContain('-- mig:down');
    const ts = await run(['create', 'backfill', '--ts']);
    expect(ts.code).toBe(0);
    const files = await readdir(ws.migrations);
    const tsFile = files.find((f) => f.endsWith('_backfill.ts'));
    expect(tsFile).toBeDefined();
    expect(await readFile(join(ws.migrations, tsFile!), 'utf8')).toContain('export async function up(db: Kysely<any>)');
    const bad = await run(['create', 'no spaces please']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Invalid migration name');
    // A template that was never written fails clearly instead of being recorded as applied: the folder is
    // refused (exit 2) before anything runs, so nothing is applied and nothing recorded.
    const up = await run(['up']);
    expect(up.code, up.stdout + up.stderr).toBe(2);
    expect(up.stdout).toContain('Failed: nothing was applied.');
    expect(up.stdout).toMatch(
      /_add_users_email" \(\S+\) contains no SQL statement\. Write the migration, or delete the file\./,
    );
    const { rows } = await database.query(
      `select to_regclass('public.todos')::text as todos, to_regclass('public.mig_migrations')::text as store`,
    );
    expect(rows[0].todos).toBeNull();
    if (rows[0].store !== null) {
      expect((await database.query('select name from mig_migrations')).rows).toEqual([]);
    }
  });

  it('unlock shows the lease holder and clears it with --force; advisory locks need none', async () => {
    await run(['up']);
    const free = await run(['unlock']);
    expect(free.code).toBe(0);
    expect(free.stdout).toContain('Lease lock: free.');
    expect(free.stdout).toContain('Advisory locks need no unlock');
    await database.query(
      `insert into mig_migrations_lock (key, owner, token, acquired_at, expires_at)
       values ('public.mig_migrations', 'crashed-host:4242:abcd1234', 7, now(), now() + interval '10 minutes')`,
    );
    const held = await run(['unlock', '--json']);
    expect(held.json().lease.holder.owner).toBe('crashed-host:4242:abcd1234');
    const forced = await run(['unlock', '--force']);
    expect(forced.stdout).toContain('Lease lock: cleared; it was held by crashed-host:4242:abcd1234');
    expect((await run(['unlock', '--json'])).json().lease.holder).toBeNull();
    // The token survives, so the next grant's token is larger (fencing).
    const { rows } = await database.query('select token::int as token from mig_migrations_lock');
    expect(rows).toEqual([{ token: 7 }]);
  });

  it('applies each migration once when 20 `mig up` processes race on a fresh database', {
    timeout: 120_000,
  }, async () => {
    for (let i = 3; i <= 10; i++) {
      await ws.write(`${String(i).padStart(3, '0')}_step.sql`, `create table step_${i} (id int);\n`);
    }
    const runs = await Promise.all(Array.from({ length: 20 }, () => run(['up', '--json'])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const applied = runs.flatMap((r) =>
      r
        .json()
        .results.filter((x: { status: string }) => x.status === 'applied')
        .map((x: { name: string }) => x.name),
    );
    expect(applied).toHaveLength(10);
    expect(new Set(applied).size).toBe(10);
    const { rows } = await database.query(
      'select count(*)::int as n, count(distinct name)::int as d from mig_migrations',
    );
    expect(rows[0]).toEqual({ n: 10, d: 10 });
  });
});
