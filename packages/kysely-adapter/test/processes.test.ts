import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import type { ProcessResult } from '../../../test/support/processes.js';
import { auditedMigrations, outcome, startInstance } from './support/instances.js';
import type { MigrationFolder } from './support/migrations.js';

const SLOW = "insert into audit (migration) values ('900_slow');\nselect pg_sleep(60);\n";

/** Waits until a backend of this database runs pg_sleep; returns its pid and application name. */
async function sleepingBackend(database: TestDatabase): Promise<{ pid: number; app: string }> {
  for (let i = 0; i < 300; i++) {
    const { rows } = await database.query<{ pid: number; app: string }>(
      `select pid, application_name as app from pg_stat_activity
       where datname = current_database() and state = 'active' and query like '%pg_sleep(60)%' and pid <> pg_backend_pid()`,
    );
    if (rows[0]) return rows[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no backend started the slow migration');
}

async function auditCounts(database: TestDatabase): Promise<Record<string, number>> {
  const { rows } = await database.query<{ migration: string; n: number }>(
    'select migration, count(*)::int as n from audit group by migration order by migration',
  );
  return Object.fromEntries(rows.map((r) => [r.migration, r.n]));
}

describe.each(['advisory', 'lease'] as const)('the %s lock across real processes', (strategy) => {
  let database: TestDatabase;
  let folder: MigrationFolder | undefined;
  const leaseTtlMs = 3_000;

  beforeEach(async () => {
    database = await createTestDatabase(`lock_${strategy}`);
  });
  afterEach(async () => {
    await database.drop();
    await folder?.dispose();
    folder = undefined;
  });

  it('applies each of 20 migrations exactly once when 50 processes start together', { timeout: 240_000 }, async () => {
    folder = await auditedMigrations(20);
    const startAt = Date.now() + 8_000;
    const runs = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          startInstance({ url: database.url, dir: folder!.dir, strategy, name: `proc-${i}`, startAt, leaseTtlMs }).done,
      ),
    );
    const outcomes = runs.map(outcome);
    for (const [i, run] of runs.entries()) {
      expect(outcomes[i]?.error, run.stderr).toBeNull();
      expect(run.code).toBe(0);
    }
    const counts = await auditCounts(database);
    expect(Object.keys(counts)).toHaveLength(20);
    expect(Object.values(counts).every((n) => n === 1)).toBe(true);
    // Every migration was applied by exactly one process; the other processes waited and applied nothing.
    const applied = outcomes.flatMap((o) => o.applied);
    expect(applied.sort()).toEqual(
      ['000_audit', ...Array.from({ length: 20 }, (_, i) => `${String(i + 1).padStart(3, '0')}_step`)].sort(),
    );
    const { rows } = await database.query('select count(*)::int as n from mig_migrations');
    expect(rows[0].n).toBe(21);
  });

  it('recovers from a holder killed with SIGKILL inside a slow migration, with no manual unlock', async () => {
    folder = await auditedMigrations(2, { '900_slow.sql': SLOW });
    const holder = startInstance({ url: database.url, dir: folder.dir, strategy, name: 'holder', leaseTtlMs });
    await sleepingBackend(database);
    holder.child.kill('SIGKILL');
    expect((await holder.done).signal).toBe('SIGKILL');

    // The slow migration is replaced by a quick one, as an operator would after a failed deploy.
    await folder.write('900_slow.sql', "insert into audit (migration) values ('900_slow');\n");
    // The holder recorded what it finished, and not the migration it was killed in: nothing to delete.
    const recorded = await database.query<{ name: string }>('select name from mig_migrations order by name');
    expect(recorded.rows.map((r) => r.name)).toEqual(['000_audit', '001_step', '002_step']);
    const removed = await database.query(`delete from mig_migrations where name = '900_slow'`);
    expect(removed.rowCount).toBe(0);
    const next = await startInstance({
      url: database.url,
      dir: folder.dir,
      strategy,
      name: 'next',
      leaseTtlMs,
      lockTimeoutMs: 20_000,
    }).done;
    const result = outcome(next);
    expect(result.error).toBeNull();
    expect(result.applied).toEqual(['900_slow']);
    // The killed migration left nothing: only the new instance's audit row exists.
    const { rows } = await database.query<{ app: string }>(`select app from audit where migration = '900_slow'`);
    expect(rows).toEqual([{ app: 'next' }]);
  });

  it('recovers when the holder backend is ended with pg_terminate_backend', async () => {
    folder = await auditedMigrations(2, { '900_slow.sql': SLOW });
    const holder = startInstance({ url: database.url, dir: folder.dir, strategy, name: 'holder', leaseTtlMs });
    const backend = await sleepingBackend(database);
    await database.query('select pg_terminate_backend($1)', [backend.pid]);
    const killed = outcome(await holder.done);
    expect(killed.error?.code).toBe('MIGRATION_FAILED');
    expect(killed.error?.message).toContain('900_slow');

    await folder.write('900_slow.sql', "insert into audit (migration) values ('900_slow');\n");
    const next = outcome(
      await startInstance({
        url: database.url,
        dir: folder.dir,
        strategy,
        name: 'next',
        leaseTtlMs,
        lockTimeoutMs: 20_000,
      }).done,
    );
    expect(next.error).toBeNull();
    expect(next.applied).toEqual(['900_slow']);
    const { rows } = await database.query<{ app: string }>(`select app from audit where migration = '900_slow'`);
    expect(rows).toEqual([{ app: 'next' }]);
  });

  it('times a waiter out after the lock timeout, naming the holder, and leaves the holder unaffected', async () => {
    // The holder stays inside its migration until the test opens the gate, however slow the machine is to
    // start the waiter: the waiter can only time out, never outlast the holder.
    await database.query('create table gate (open boolean)');
    folder = await auditedMigrations(1, {
      '900_slow.sql':
        "insert into audit (migration) values ('900_slow');\n" +
        'do $$ begin for i in 1..2400 loop exit when exists (select 1 from gate); perform pg_sleep(0.05); end loop; end $$;\n',
    });
    const holder = startInstance({ url: database.url, dir: folder.dir, strategy, name: 'holder-app', leaseTtlMs });
    const started = Date.now();
    for (;;) {
      const { rows } = await database.query(
        `select 1 from pg_stat_activity where datname = current_database() and query like '%from gate%' and pid <> pg_backend_pid()`,
      );
      if (rows.length > 0) break;
      if (Date.now() - started > 60_000) throw new Error('the holder never started its migration');
      await new Promise((r) => setTimeout(r, 50));
    }
    let holderEnded = false;
    void holder.done.then(() => {
      holderEnded = true;
    });
    let waiter: ProcessResult;
    try {
      waiter = await startInstance({
        url: database.url,
        dir: folder.dir,
        strategy,
        name: 'waiter',
        lockTimeoutMs: 1_000,
      }).done;
      // It gave up while the holder was still inside its migration, holding the lock.
      expect(holderEnded).toBe(false);
    } finally {
      await database.query('insert into gate values (true)');
    }
    const result = outcome(waiter);
    expect(waiter.code).toBe(3);
    expect(result.error?.code).toBe('LOCK_TIMEOUT');
    const waited = Number(result.error?.message.match(/Timed out after (\d+) ms waiting for the migration lock/)?.[1]);
    // Not before the timeout; and it ends at the timeout, plus at most one attempt's overrun (1 s of grace),
    // with room for a loaded machine.
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(result.lockWaitMs).toBeGreaterThanOrEqual(1_000);
    expect(result.lockWaitMs).toBeLessThan(5_000);
    expect(result.error?.message).toContain(strategy === 'advisory' ? 'application "holder-app"' : `${'held by '}`);
    if (strategy === 'lease') expect(result.error?.message).toMatch(/held by [^ ]+:\d+:[0-9a-f]{8} since/);
    expect(result.applied).toEqual([]);

    const done = await holder.done;
    expect(outcome(done).error).toBeNull();
    expect(outcome(done).applied).toContain('900_slow');
    const { rows } = await database.query<{ app: string }>(`select app from audit where migration = '900_slow'`);
    expect(rows).toEqual([{ app: 'holder-app' }]);
  });

  it('completes a CREATE INDEX CONCURRENTLY migration while 10 other processes wait', {
    timeout: 120_000,
  }, async () => {
    folder = await auditedMigrations(1, {
      '500_rows.sql':
        'create table big (id int, v text);\ninsert into big select g, md5(g::text) from generate_series(1, 100000) g;\n',
      '600_index.sql':
        "-- mig:no-transaction\nselect pg_sleep(2);\ncreate index concurrently big_v_idx on big (v);\ninsert into audit (migration) values ('600_index');\n",
    });
    const startAt = Date.now() + 3_000;
    const runs = await Promise.all(
      Array.from(
        { length: 11 },
        (_, i) =>
          startInstance({ url: database.url, dir: folder!.dir, strategy, name: `cic-${i}`, startAt, leaseTtlMs }).done,
      ),
    );
    for (const run of runs) expect(outcome(run).error, run.stderr).toBeNull();
    expect(runs.map(outcome).filter((o) => o.applied.includes('600_index'))).toHaveLength(1);
    const { rows } = await database.query(
      `select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'big_v_idx'`,
    );
    expect(rows).toEqual([{ valid: true }]);
  });
});
