import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PgBouncer, startPgBouncer } from '../../../../../test/support/pgbouncer.js';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import type { RunningProcess } from '../../../../../test/support/processes.js';
import { type MigrateOutcome, outcome, startInstance } from '../../support/instances.js';
import { type MigrationFolder, migrationFolder } from '../../support/migrations.js';

// Lease fencing on PostgreSQL with real processes: a holder frozen (SIGSTOP) inside a slow migration past its
// lease's expiry, a second instance that takes the lease over, and the holder resumed (SIGCONT). The lease
// row's token is the fence: the store checks it in each migration's transaction, so a holder whose lease
// lapsed can neither commit nor record, whatever it was doing when it was frozen.

// A lease as short as a loaded two-core machine allows: its holder must renew within 3 s, even while other
// test files run a hundred processes.
const LEASE_TTL_MS = 3_000; // renewed every second (a third of it)
/**
 * Longer than the lease by a wide margin: a store may send a SQL migration to the server in one round trip
 * with its fence check, so the server runs it to the end while the client is frozen, and the lease must
 * have expired by then.
 */
const SLOW_SECONDS = 8;
const MIGRATIONS = ['000_audit', '001_step', '002_slow', '003_step', '004_step'];
/** Only an instance named like this sleeps in 002_slow; any other runs the same migration at once. */
const SLEEPER = 'holder';

/** How the slow migration is written: SQL (sent as text), or code (one query at a time from the client). */
type Kind = 'sql' | 'code';

/** Each migration writes one audit row (with the application that ran it) in its own transaction. */
function files(kind: Kind, slowSeconds: number): Record<string, string> {
  const audit = (name: string) => `insert into audit (migration) values ('${name}');\n`;
  const sleepSql = `select pg_sleep(case when current_setting('application_name') like '%${SLEEPER}' then ${slowSeconds} else 0 end);\n`;
  const slow: Record<string, string> =
    kind === 'sql'
      ? { '002_slow.sql': `${audit('002_slow')}${sleepSql}create table t_slow (id int);\n` }
      : {
          // The instance's name is on its command line (--name=…), as the fixture is started.
          '002_slow.mjs': [
            `const seconds = process.argv.some((a) => a.startsWith('--name=') && a.endsWith('${SLEEPER}')) ? ${slowSeconds} : 0;`,
            'export async function up(db) {',
            "  await db.insertInto('audit').values({ migration: '002_slow' }).execute();",
            "  await db.selectNoFrom((eb) => eb.fn('pg_sleep', [eb.val(seconds)]).as('slept')).execute();",
            "  await db.schema.createTable('t_slow').addColumn('id', 'integer').execute();",
            '}',
            '',
          ].join('\n'),
        };
  return {
    '000_audit.sql':
      "create table audit (migration text not null, app text not null default current_setting('application_name'));\n",
    '001_step.sql': `create table t_1 (id int);\n${audit('001_step')}`,
    ...slow,
    '003_step.sql': `create table t_3 (id int);\n${audit('003_step')}`,
    '004_step.sql': `create table t_4 (id int);\n${audit('004_step')}`,
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once the instance's backend runs the slow migration's pg_sleep. */
function sleeping(database: TestDatabase, app: string): Promise<number> {
  return until(`${app} sleeps in 002_slow`, async () => {
    const { rows } = await database.query<{ pid: number }>(
      `select pid from pg_stat_activity
       where datname = current_database() and application_name = $1 and state = 'active' and query like '%pg_sleep(%'`,
      [app],
    );
    return rows[0]?.pid;
  });
}

async function leaseRow(database: TestDatabase): Promise<{ owner: string | null; token: string } | undefined> {
  const { rows } = await database.query<{ owner: string | null; token: string }>(
    'select owner, token::text as token from mig_migrations_lock',
  );
  return rows[0];
}

/** Every migration's audit row, with the application that wrote it; and every record. */
async function history(database: TestDatabase) {
  const audit = await database.query<{ migration: string; app: string }>(
    'select migration, app from audit order by migration, app',
  );
  const records = await database.query<{ name: string }>('select name from mig_migrations order by id');
  return { audit: audit.rows, records: records.rows.map((r) => r.name) };
}

/** The lease owner an instance writes: `host:pid@pidns:random` (the pid namespace where the system has one). */
function ownerOf(instance: RunningProcess): RegExp {
  return new RegExp(`^${hostname()}:${instance.child.pid}(@\\d+)?:`);
}

describe.each(['sql', 'code'] as const)('lease fencing on PostgreSQL, real processes, a slow %s migration', (kind) => {
  let database: TestDatabase;
  let folder: MigrationFolder;
  const running: RunningProcess[] = [];
  const start = (name: string, url = database.url) => {
    const instance = startInstance({
      url,
      dir: folder.dir,
      strategy: 'lease',
      name,
      leaseTtlMs: LEASE_TTL_MS,
      lockTimeoutMs: 30_000,
    });
    running.push(instance);
    return instance;
  };

  beforeEach(async () => {
    database = await createTestDatabase('lease_fencing');
    folder = await migrationFolder(files(kind, SLOW_SECONDS));
  });
  afterEach(async () => {
    // A failed assertion must not leave a stopped process behind.
    for (const instance of running.splice(0)) {
      if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
    }
    await database.drop();
    await folder.dispose();
  });

  it('a holder frozen past its lease, taken over, then resumed: neither commits nor records, ends with LockLostError', {
    timeout: 120_000,
  }, async () => {
    const holder = start(SLEEPER);
    await sleeping(database, SLEEPER);
    const frozenAt = Date.now();
    holder.child.kill('SIGSTOP');
    const held = await leaseRow(database);
    expect(held?.owner).toMatch(ownerOf(holder));

    const taker = start('taker');
    // The lease lapses without renewals and the second instance takes it over, with a larger token.
    const taken = await until('the taker holds the lease', async () => {
      const row = await leaseRow(database);
      return row?.owner && ownerOf(taker).test(row.owner) ? row : undefined;
    });
    expect(BigInt(taken.token)).toBeGreaterThan(BigInt(held?.token ?? '0'));
    // While the holder's transaction is open, the taker waits for it (the head row it locked); the taker
    // may also have gone on already, if the server ended the holder's transaction without its client.
    // Frozen for longer than a whole lease, whenever its last renewal was.
    await new Promise((r) => setTimeout(r, Math.max(0, frozenAt + LEASE_TTL_MS + 500 - Date.now())));

    holder.child.kill('SIGCONT');
    const [holderRun, takerRun] = await Promise.all([holder.done, taker.done]);
    const resumed: MigrateOutcome = outcome(holderRun);
    expect(resumed.error?.code, holderRun.stderr).toBe('LOCK_LOST');
    // Found by the store's fence check in 002_slow's transaction (or by the heartbeat, between migrations).
    expect(resumed.error?.message).toMatch(
      new RegExp(
        `^The migration lock (lease lock on )?public\\.mig_migrations was lost: lease token ${held?.token} expired or was taken over.*` +
          'Nothing more was applied or recorded under it; run again\\.$',
      ),
    );
    expect(resumed.applied).toEqual(['000_audit', '001_step']);
    expect(holderRun.code).toBe(1);
    const took = outcome(takerRun);
    expect(took.error, takerRun.stderr).toBeNull();
    expect(took.applied).toEqual(['002_slow', '003_step', '004_step']);

    // The resumed holder's 002_slow rolled back: its audit row is gone, the taker's is the only one.
    const after = await history(database);
    expect(after.records).toEqual(MIGRATIONS);
    expect(after.audit).toEqual([
      { migration: '001_step', app: SLEEPER },
      { migration: '002_slow', app: 'taker' },
      { migration: '003_step', app: 'taker' },
      { migration: '004_step', app: 'taker' },
    ]);

    // One more plain run: nothing left to do, every migration still applied exactly once.
    const again = outcome(await start('again').done);
    expect(again.error).toBeNull();
    expect(again.applied).toEqual([]);
    expect(await history(database)).toEqual(after);
  });

  it('a holder resumed after its lease lapsed, with nobody taking it over, still does not commit', {
    timeout: 60_000,
  }, async () => {
    const holder = start(SLEEPER);
    await sleeping(database, SLEEPER);
    holder.child.kill('SIGSTOP');
    // Frozen until its lease has expired in the database's own clock.
    await until('the lease expired', async () => {
      const { rows } = await database.query('select 1 from mig_migrations_lock where expires_at <= now()');
      return rows.length > 0 ? true : undefined;
    });
    holder.child.kill('SIGCONT');
    const run = await holder.done;
    const resumed = outcome(run);
    expect(resumed.error?.code, run.stderr).toBe('LOCK_LOST');
    expect(resumed.error?.message).toContain('expired or was taken over');
    expect(resumed.applied).toEqual(['000_audit', '001_step']);
    expect((await history(database)).records).toEqual(['000_audit', '001_step']);

    const next = outcome(await start('next').done);
    expect(next.error).toBeNull();
    expect(next.applied).toEqual(['002_slow', '003_step', '004_step']);
    const after = await history(database);
    expect(after.records).toEqual(MIGRATIONS);
    expect(after.audit.map((r) => r.migration)).toEqual(MIGRATIONS.slice(1));
    expect(after.audit.find((r) => r.migration === '002_slow')?.app).toBe('next');
  });
});

describe.each(['sql', 'code'] as const)(
  'the lease heartbeat through PgBouncer in transaction mode, a slow %s migration',
  (kind) => {
    let bouncer: PgBouncer;
    let database: TestDatabase;
    let folder: MigrationFolder;

    beforeEach(async () => {
      bouncer = await startPgBouncer({ poolMode: 'transaction', poolSize: 2 });
      database = await createTestDatabase('lease_heartbeat_pooled');
    });
    afterEach(async () => {
      await bouncer?.stop();
      await database?.drop();
      await folder?.dispose();
    });

    it('keeps the lease during a migration three times longer than its TTL', { timeout: 60_000 }, async () => {
      const slowSeconds = (3 * LEASE_TTL_MS) / 1_000;
      folder = await migrationFolder(files(kind, slowSeconds));
      const started = Date.now();
      const run = await startInstance({
        url: bouncer.url(database.name),
        dir: folder.dir,
        strategy: 'lease',
        name: `pooled-${SLEEPER}`,
        leaseTtlMs: LEASE_TTL_MS,
      }).done;
      const result = outcome(run);
      expect(result.error, run.stderr).toBeNull();
      expect(result.applied).toEqual(MIGRATIONS);
      expect(Date.now() - started).toBeGreaterThan(slowSeconds * 1_000);
      // One grant (token 1), renewed by the heartbeat, released at the end: never lost and taken again.
      expect(await leaseRow(database)).toEqual({ owner: null, token: '1' });
      const after = await history(database);
      expect(after.records).toEqual(MIGRATIONS);
      expect(after.audit.map((r) => r.migration)).toEqual(MIGRATIONS.slice(1));
    });
  },
);
