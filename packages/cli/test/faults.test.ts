import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ProcessResult, type RunningProcess, startNode } from '../../../test/support/processes.js';
import { type EngineName, LOCATIONS, type Location } from './locations.js';
import { CLI, mig, type Workspace, workspace } from './support.js';

// What operators do every day to a running `mig up`, with real processes and real signals, on each engine
// and lock strategy: Ctrl-C and SIGTERM in the middle of a migration, a second signal, a migration that
// never settles under a migration timeout, and a migration that ends the process. Afterwards the lock is
// never left behind: the next run gets it at once.

/** The migrations: a table, then a slow code migration that writes a row into it and waits, then one more. */
function migrations(wait: string): Record<string, string> {
  return {
    '001_audit.sql': 'create table audit (migration varchar(64) not null);\n',
    // A code migration (no imports: the folder has no node_modules) that changes data, says so on stdout, and
    // waits; on MySQL a data change is what a rollback can take back, so it is the same on every engine.
    '002_slow.mjs':
      "export async function up(db) {\n  await db.insertInto('audit').values({ migration: '002_slow' }).execute();\n" +
      `  console.log('002_slow running');\n  ${wait}\n}\n`,
    '003_after.sql': "insert into audit (migration) values ('003_after');\n",
  };
}

/** The JSON document a `--json` run printed on stdout, after any lines its migrations printed there. */
function documentIn(stdout: string): any {
  const start = stdout.startsWith('{') ? 0 : stdout.indexOf('\n{') + 1;
  return JSON.parse(stdout.slice(start));
}

const CASES: readonly { readonly engine: EngineName; readonly strategy: 'advisory' | 'lease' }[] = [
  { engine: 'postgres', strategy: 'advisory' },
  { engine: 'postgres', strategy: 'lease' },
  { engine: 'mariadb', strategy: 'advisory' },
  { engine: 'mariadb', strategy: 'lease' },
  { engine: 'sqlite', strategy: 'lease' },
];

describe.each(CASES)('signals and faults: mig up on $engine with the $strategy lock', ({ engine, strategy }) => {
  let where: Location;
  let ws: Workspace | undefined;

  beforeEach(async () => {
    where = await LOCATIONS[engine]();
  });
  afterEach(async () => {
    await where.drop();
    await ws?.dispose();
    ws = undefined;
  });

  const env = () => ({ DATABASE_URL: where.url, MIGRATION_LOCK_STRATEGY: strategy });
  const up = (extra: string[] = []): RunningProcess =>
    startNode(CLI, ['up', '--json', ...extra], {
      cwd: ws?.dir,
      env: { NODE_ENV: '', AUTO_MIGRATE: '', NO_COLOR: '1', MIGRATION_TIMEOUT: '', ...env() },
    });
  const audit = async () =>
    (await where.rows<{ migration: string }>('select migration from audit')).map((r) => r.migration);
  const recorded = async () =>
    (await where.rows<{ name: string }>('select name from mig_migrations order by id')).map((r) => r.name);
  /** The next run: the lock is free (or taken over at once), so it waits for nothing. */
  const nextRun = async () => {
    const next = await mig(['up', '--json', '--lock-timeout', '5s'], { cwd: ws?.dir ?? '', env: env() });
    expect(next.code, next.stderr).toBe(0);
    const doc = documentIn(next.stdout);
    expect(doc.lockWaitMs).toBeLessThan(2_000);
    return doc;
  };
  /** The JSON document `mig up --json` printed, after whatever the migrations printed on stdout. */
  const stopped = (result: ProcessResult) => documentIn(result.stdout);

  it('SIGINT: the running migration finishes within the grace period, nothing more starts, exit 130', async () => {
    ws = await workspace(migrations('await new Promise((resolve) => setTimeout(resolve, 1500));'));
    const run = up();
    await run.waitFor(/002_slow running/);
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toContain('SIGINT: stopping');
    const doc = stopped(result);
    expect(doc.results.map((r: { name: string; status: string }) => [r.name, r.status])).toEqual([
      ['001_audit', 'applied'],
      ['002_slow', 'applied'],
      ['003_after', 'not-run'],
    ]);
    expect(await recorded()).toEqual(['001_audit', '002_slow']);
    const next = await nextRun();
    expect(next.results.map((r: { name: string }) => r.name)).toEqual(['003_after']);
    expect(await audit()).toEqual(['002_slow', '003_after']);
  });

  it('SIGTERM: a migration that outlasts the grace period is stopped and rolled back, the lock let go, exit 143', {
    timeout: 60_000,
  }, async () => {
    ws = await workspace(migrations('await new Promise((resolve) => setTimeout(resolve, 60_000));'));
    const run = up();
    await run.waitFor(/002_slow running/);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(143);
    const doc = stopped(result);
    expect(doc.error.code).toBe('ABORTED');
    expect(doc.error.message).toContain('Migration "002_slow" was stopped while it ran (stopped by SIGTERM)');
    expect(doc.results.map((r: { name: string; status: string }) => [r.name, r.status])).toEqual([
      ['001_audit', 'applied'],
      ['002_slow', 'failed'],
      ['003_after', 'not-run'],
    ]);
    // Its row went with its transaction; it is not recorded; and the lock is free for the next run.
    expect(await audit()).toEqual([]);
    expect(await recorded()).toEqual(['001_audit']);
    await ws.write('002_slow.mjs', migrations('')['002_slow.mjs'] as string);
    expect((await nextRun()).results.map((r: { name: string }) => r.name)).toEqual(['002_slow', '003_after']);
  });

  it('a second signal exits at once, and the next run still gets the lock at once', async () => {
    ws = await workspace(migrations('await new Promise((resolve) => setTimeout(resolve, 60_000));'));
    const run = up();
    await run.waitFor(/002_slow running/);
    run.child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sent = Date.now();
    run.child.kill('SIGINT');
    const result = await run.done;
    expect(Date.now() - sent).toBeLessThan(3_000);
    expect(result.code).toBe(130);
    expect(result.stderr).toContain('SIGINT again: exiting now');
    expect(await recorded()).toEqual(['001_audit']);
    await ws.write('002_slow.mjs', migrations('')['002_slow.mjs'] as string);
    expect((await nextRun()).results.map((r: { name: string }) => r.name)).toEqual(['002_slow', '003_after']);
  });

  it('a migration that never settles is stopped at the migration timeout, naming it, and the lock let go', async () => {
    ws = await workspace(migrations('await new Promise(() => {});'));
    const run = up(['--migration-timeout', '2s']);
    const result = await run.done;
    expect(result.code, result.stderr).toBe(1);
    const doc = stopped(result);
    expect(doc.error.code).toBe('MIGRATION_TIMEOUT');
    expect(doc.error.message).toMatch(/^Migration "002_slow" ran longer than the migration timeout of 2 s/);
    expect(await recorded()).toEqual(['001_audit']);
    expect(await audit()).toEqual([]);
    await ws.write('002_slow.mjs', migrations('')['002_slow.mjs'] as string);
    expect((await nextRun()).results.map((r: { name: string }) => r.name)).toEqual(['002_slow', '003_after']);
  });

  it('a migration that ends the process makes mig up fail naming it, and the lock is free for the next run', async () => {
    ws = await workspace(migrations('process.exit(0);'));
    const result = await up().done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('the process ended while migration "002_slow" was running');
    expect(await recorded()).toEqual(['001_audit']);
    await ws.write('002_slow.mjs', migrations('')['002_slow.mjs'] as string);
    expect((await nextRun()).results.map((r: { name: string }) => r.name)).toEqual(['002_slow', '003_after']);
  });
});

describe('instances configured with different lock strategies on MariaDB', () => {
  let where: Location;
  let ws: Workspace | undefined;

  beforeEach(async () => {
    where = await LOCATIONS.mariadb();
  });
  afterEach(async () => {
    await where.drop();
    await ws?.dispose();
  });

  it('exclude each other: a DDL migration runs once, whichever strategy each instance uses', {
    timeout: 120_000,
  }, async () => {
    ws = await workspace({
      '001_audit.sql': 'create table audit (migration varchar(64) not null);\n',
      // DDL, which MySQL cannot roll back, and slow enough that both instances are there at once.
      '002_ddl.sql':
        "create table t_ddl (id int);\ninsert into audit (migration) values ('002_ddl');\nselect sleep(2);\n",
    });
    const runs = await Promise.all(
      (['lease', 'advisory', 'lease', 'advisory'] as const).map((strategy) =>
        mig(['up', '--json', '--lock-timeout', '60s', '--lock-strategy', strategy], {
          cwd: ws?.dir ?? '',
          env: { DATABASE_URL: where.url },
        }),
      ),
    );
    for (const run of runs) expect(run.code, run.stdout + run.stderr).toBe(0);
    const applied = runs.flatMap((run) =>
      run
        .json()
        .results.filter((r: { status: string }) => r.status === 'applied')
        .map((r: { name: string }) => r.name),
    );
    expect(applied.sort()).toEqual(['001_audit', '002_ddl']);
    expect(await where.rows('select migration from audit')).toEqual([{ migration: '002_ddl' }]);
  });
});
