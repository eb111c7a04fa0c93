import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lastJsonLine, type ProcessResult, type RunningProcess, startNode } from '../../../test/support/processes.js';
import { type MigrationFolder, migrationFolder } from './support/migrations.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from './support/mysql.js';

// mig on MariaDB across real processes (each a node process on the built package, as an application
// instance would be): racing instances, a holder killed with SIGKILL, a lock timeout, drift and a dry run.

const SCRIPT = fileURLToPath(new URL('./fixtures/mysql-migrate.mjs', import.meta.url));
const LEASE_TTL_MS = 3_000;

interface Outcome {
  readonly name: string;
  readonly applied?: string[];
  readonly error?: { code: string; message: string } | null;
  readonly state?: string;
  readonly problems?: { kind: string; name: string }[];
}

function start(
  database: TestMysqlDatabase,
  folder: MigrationFolder,
  options: { name: string; strategy?: string; command?: string; lockTimeoutMs?: number; startAt?: number },
): RunningProcess {
  return startNode(SCRIPT, [
    `--url=${database.url}`,
    `--dir=${folder.dir}`,
    `--name=${options.name}`,
    `--strategy=${options.strategy ?? 'advisory'}`,
    `--command=${options.command ?? 'up'}`,
    `--lock-timeout=${options.lockTimeoutMs ?? 120_000}`,
    `--lease-ttl=${LEASE_TTL_MS}`,
    `--start-at=${options.startAt ?? 0}`,
  ]);
}

function outcome(result: ProcessResult): Outcome {
  return lastJsonLine<Outcome>(result);
}

/** Mixed DDL and data, data only, and a code migration: each writes one audit row. */
async function racedMigrations(count: number): Promise<MigrationFolder> {
  const files: Record<string, string> = {
    '000_audit.sql': 'create table audit (migration varchar(64) not null, at datetime(6) not null default now(6));\n',
  };
  for (let i = 1; i <= count; i++) {
    const name = `${String(i).padStart(3, '0')}_step`;
    files[`${name}.sql`] =
      i % 3 === 0
        ? `insert into audit (migration) values ('${name}');\n`
        : `create table t_${i} (id int);\nalter table t_${i} add column note text;\ninsert into audit (migration) values ('${name}');\n`;
  }
  // A code migration with DDL (it commits mig's transaction, so it is recorded in one of its own).
  files['500_code.mjs'] =
    'export async function up(db) {\n' +
    "  await db.schema.createTable('from_code').addColumn('id', 'integer').execute();\n" +
    "  await db.insertInto('audit').values({ migration: '500_code' }).execute();\n}\n";
  return migrationFolder(files);
}

async function auditCounts(database: TestMysqlDatabase): Promise<Record<string, number>> {
  const rows = await database.query<{ migration: string; n: number }>(
    'select migration, count(*) as n from audit group by migration order by migration',
  );
  return Object.fromEntries(rows.map((r) => [r.migration, Number(r.n)]));
}

/** The server thread running a statement that contains `marker`, once one does. */
async function threadRunning(database: TestMysqlDatabase, marker: string, process: RunningProcess): Promise<number> {
  let exited: ProcessResult | undefined;
  void process.done.then((result) => {
    exited = result;
  });
  for (let i = 0; i < 600; i++) {
    if (exited) throw new Error(`the instance exited before it ran ${marker}:\n${exited.stdout}\n${exited.stderr}`);
    const rows = await database.query<{ id: number }>(
      'select id from information_schema.processlist where info like ? and id <> connection_id()',
      [`%${marker}%`],
    );
    if (rows[0]) return Number(rows[0].id);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no connection started running ${marker}`);
}

describe.each(['advisory', 'lease'] as const)('the %s lock on MariaDB across real processes', (strategy) => {
  let database: TestMysqlDatabase;
  let folder: MigrationFolder | undefined;

  beforeEach(async () => {
    database = await createTestMysqlDatabase(`proc_${strategy}`);
  });
  afterEach(async () => {
    // A statement left sleeping by a killed instance would hold its locks until it ends.
    const rows = await database.query<{ id: number }>(
      'select id from information_schema.processlist where db = database() and id <> connection_id()',
    );
    for (const { id } of rows) await database.query(`kill ${Number(id)}`).catch(() => {});
    await database.drop();
    await folder?.dispose();
    folder = undefined;
  });

  it('20 instances racing apply each migration exactly once, and all succeed', { timeout: 300_000 }, async () => {
    folder = await racedMigrations(8);
    const startAt = Date.now() + 8_000;
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => start(database, folder!, { name: `proc-${i}`, strategy, startAt }).done),
    );
    const outcomes = runs.map(outcome);
    for (const [i, run] of runs.entries()) {
      expect(outcomes[i]?.error, run.stderr).toBeNull();
      expect(run.code).toBe(0);
    }
    const names = [
      '000_audit',
      ...Array.from({ length: 8 }, (_, i) => `${String(i + 1).padStart(3, '0')}_step`),
      '500_code',
    ];
    expect(outcomes.flatMap((o) => o.applied ?? []).sort()).toEqual(names);
    const counts = await auditCounts(database);
    expect(counts).toEqual(Object.fromEntries(names.slice(1).map((n) => [n, 1])));
    const recorded = await database.query<{ name: string }>('select name from mig_migrations order by id');
    expect(recorded.map((r) => r.name)).toEqual(names);
  });

  it('recovers from a holder killed with SIGKILL inside a slow migration, with no manual unlock', {
    timeout: 180_000,
  }, async () => {
    folder = await racedMigrations(2);
    await folder.write('900_slow.sql', "insert into audit (migration) values ('900_slow');\nselect sleep(5);\n");
    const holder = start(database, folder, { name: 'holder', strategy });
    await threadRunning(database, 'sleep(5)', holder);
    holder.child.kill('SIGKILL');
    expect((await holder.done).signal).toBe('SIGKILL');
    // The holder recorded what it finished, and not the migration it was killed in.
    const recorded = await database.query<{ name: string }>('select name from mig_migrations order by id');
    expect(recorded.map((r) => r.name)).toEqual(['000_audit', '001_step', '002_step', '500_code']);

    const next = outcome(await start(database, folder, { name: 'next', strategy, lockTimeoutMs: 60_000 }).done);
    expect(next.error).toBeNull();
    expect(next.applied).toEqual(['900_slow']);
    // The killed run's data change was rolled back with its transaction: one audit row, the next run's.
    expect((await auditCounts(database))['900_slow']).toBe(1);
  });

  it('times a waiter out after its lock timeout, naming the holder, and leaves the holder unaffected', {
    timeout: 180_000,
  }, async () => {
    // The holder stays inside its migration until the test opens the gate, however slow the machine is to
    // start the waiter: the waiter can only time out, never outlast the holder. (A DELIMITER block, as the
    // mysql client takes it.)
    await database.query('create table gate (open int)');
    folder = await racedMigrations(1);
    await folder.write(
      '900_slow.sql',
      // "-- mig:no-transaction" means nothing on MySQL and is accepted; here it lets the file through the
      // source's check for transaction control, which takes the block's END for one.
      "-- mig:no-transaction\ninsert into audit (migration) values ('900_slow');\nDELIMITER //\n" +
        'begin not atomic\n  declare i int default 0;\n' +
        '  while i < 2400 and not exists (select 1 from gate) do\n    do sleep(0.05);\n    set i = i + 1;\n  end while;\nend//\n' +
        'DELIMITER ;\n',
    );
    const holder = start(database, folder, { name: 'holder', strategy });
    const thread = await threadRunning(database, 'sleep(0.05)', holder);
    const waiter = outcome(await start(database, folder, { name: 'waiter', strategy, lockTimeoutMs: 1_500 }).done);
    expect(waiter.error?.code).toBe('LOCK_TIMEOUT');
    // The GET_LOCK holder is named by its connection; a lease's by its owner (host:pid).
    expect(waiter.error?.message).toContain(
      strategy === 'advisory' ? `MySQL connection ${thread}` : `:${holder.child.pid}`,
    );
    await database.query('insert into gate values (1)');
    const held = outcome(await holder.done);
    expect(held.error).toBeNull();
    expect(held.applied).toContain('900_slow');
  });
});

describe('drift and dry runs on MariaDB across real processes', () => {
  let database: TestMysqlDatabase;
  let folder: MigrationFolder | undefined;

  beforeEach(async () => {
    database = await createTestMysqlDatabase('proc_drift');
  });
  afterEach(async () => {
    await database.drop();
    await folder?.dispose();
    folder = undefined;
  });

  it('reports an applied file that was edited as drift', { timeout: 120_000 }, async () => {
    folder = await racedMigrations(2);
    expect(outcome(await start(database, folder, { name: 'first' }).done).error).toBeNull();
    await folder.write('001_step.sql', 'create table t_1 (id int, edited int);\n');
    const status = outcome(await start(database, folder, { name: 'status', command: 'status' }).done);
    expect(status.state).toBe('drifted');
    expect(status.problems).toEqual([expect.objectContaining({ kind: 'changed', name: '001_step' })]);
    const up = outcome(await start(database, folder, { name: 'again' }).done);
    expect(up.error?.code).toBe('DRIFT');
    expect(up.error?.message).toContain('001_step');
  });

  it('writes nothing in a dry run, not even its own tables', { timeout: 120_000 }, async () => {
    folder = await racedMigrations(2);
    const dry = outcome(await start(database, folder, { name: 'dry', command: 'dry-run' }).done);
    expect(dry.error).toBeNull();
    expect(dry.applied).toEqual([]);
    expect(await database.tables()).toEqual([]);
    // The same folder then applies for real.
    const real = outcome(await start(database, folder, { name: 'real' }).done);
    expect(real.applied).toHaveLength(4);
    expect(await database.tables()).toEqual([
      'audit',
      'from_code',
      'mig_migrations',
      'mig_migrations_head',
      'mig_migrations_lock',
      't_1',
      't_2',
    ]);
  });
});
