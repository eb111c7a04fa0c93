import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import { engine, processTraits } from '../../support/engines.js';
import { outcome, race, startInstance } from '../../support/instances.js';
import { auditedMigrations, type MigrationFolder } from '../../support/migrations.js';

// PostgreSQL across real processes, where only PostgreSQL has it: a holder's backend ended by the server,
// and CREATE INDEX CONCURRENTLY, which waits for every older snapshot, while other instances wait for the
// lock. What every engine does across processes is in processes.test.ts.

const SLOW = "insert into audit (migration) values ('900_slow');\nselect pg_sleep(60);\n";
/** Who ran a SQL migration: its session's application name, the instance's name. */
const { currentApp } = processTraits(engine('postgres'));

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

  it('recovers when the holder backend is ended with pg_terminate_backend', async () => {
    folder = await auditedMigrations(currentApp, 2, { '900_slow.sql': SLOW });
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

  it('completes a CREATE INDEX CONCURRENTLY migration while 10 other processes wait', {
    timeout: 120_000,
  }, async () => {
    folder = await auditedMigrations(currentApp, 1, {
      '500_rows.sql':
        'create table big (id int, v text);\ninsert into big select g, md5(g::text) from generate_series(1, 100000) g;\n',
      '600_index.sql':
        "-- mig:no-transaction\nselect pg_sleep(2);\ncreate index concurrently big_v_idx on big (v);\ninsert into audit (migration) values ('600_index');\n",
    });
    const dir = folder.dir;
    const runs = await race(11, (i) => ({ url: database.url, dir, strategy, name: `cic-${i}`, leaseTtlMs }));
    for (const run of runs) expect(outcome(run).error, run.stderr).toBeNull();
    expect(runs.map(outcome).filter((o) => o.applied.includes('600_index'))).toHaveLength(1);
    const { rows } = await database.query(
      `select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'big_v_idx'`,
    );
    expect(rows).toEqual([{ valid: true }]);
  });
});
