import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ProcessResult, runNode } from '../../../test/support/processes.js';
import { STORE_SCHEMA_VERSION } from '../src/index.js';
import { ENGINES, type EngineDatabase, processTraits } from './support/engines.js';
import { outcome, race, startInstance } from './support/instances.js';
import {
  auditedMigrations,
  codeMigration,
  gatedMigration,
  type MigrationFolder,
  quickMigration,
  stepName,
} from './support/migrations.js';

// mig across real processes (each a node process on the built packages, as an application instance would
// be), on every engine of the matrix whose database separate processes can share: racing instances, a holder
// killed with SIGKILL, a lock timeout, drift, dry runs, a failing migration, and the store's tables created
// by several processes at once. What only one engine does is tested in its folder (engines/<engine>/).

/**
 * A lease as short as a loaded two-core machine allows: its holder must renew within 3 s, even while other
 * test files run a hundred processes.
 */
const LEASE_TTL_MS = 3_000;
const PREPARE_STORE = fileURLToPath(new URL('./fixtures/prepare-store.mjs', import.meta.url));

const PROCESS_ENGINES = ENGINES.filter((engine) => engine.capabilities.processes).map((engine) => ({
  ...engine,
  traits: processTraits(engine),
}));

/** How many audit rows each migration wrote. */
async function auditCounts(database: EngineDatabase): Promise<Record<string, number>> {
  const { rows } = await sql<{ migration: string; n: number | string }>`
    select migration, count(*) as n from audit group by migration order by migration`.execute(database.db);
  return Object.fromEntries(rows.map((r) => [r.migration, Number(r.n)]));
}

/** Who wrote a migration's audit rows. */
async function auditApps(database: EngineDatabase, migration: string): Promise<{ app: string }[]> {
  const { rows } = await sql<{ app: string }>`select app from audit where migration = ${migration}`.execute(
    database.db,
  );
  return rows;
}

/** The recorded migrations, in the order applied. */
async function records(database: EngineDatabase): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from mig_migrations order by id`.execute(database.db);
  return rows.map((r) => r.name);
}

async function head(database: EngineDatabase): Promise<Record<string, unknown>[]> {
  return (await sql<Record<string, unknown>>`select * from mig_migrations_head`.execute(database.db)).rows;
}

for (const engine of PROCESS_ENGINES) {
  describe(`${engine.label} across real processes`, () => {
    const { traits } = engine;
    let database: EngineDatabase;
    let folder: MigrationFolder | undefined;
    const url = () => database.url;

    beforeEach(async () => {
      database = await engine.open('proc');
    });
    afterEach(async () => {
      await database.close();
      await folder?.dispose();
      folder = undefined;
    });

    describe.each(engine.locks.map((lock) => lock.strategy))('the %s lock', (strategy) => {
      const { instances, steps } = traits.race;
      /** The race's migrations: the audit table, the steps, and a code migration with DDL. */
      const raced = ['000_audit', ...Array.from({ length: steps }, (_, i) => stepName(i + 1)), '500_code'];

      it(`applies each of ${raced.length} migrations exactly once when ${instances} instances race up, and all of them succeed`, {
        timeout: 300_000,
      }, async () => {
        folder = await auditedMigrations(traits.currentApp, steps, {
          '500_code.mjs': codeMigration('500_code', 'from_code'),
        });
        const dir = folder.dir;
        const runs = await race(instances, (i) => ({
          url: url(),
          dir,
          name: `proc-${i}`,
          strategy,
          leaseTtlMs: LEASE_TTL_MS,
        }));
        const outcomes = runs.map(outcome);
        for (const [i, run] of runs.entries()) {
          expect(outcomes[i]?.error, run.stderr).toBeNull();
          expect(run.code).toBe(0);
        }
        // Every migration ran once (its audit row), and was reported applied by exactly one instance.
        expect(await auditCounts(database)).toEqual(Object.fromEntries(raced.slice(1).map((name) => [name, 1])));
        expect(outcomes.flatMap((o) => o.applied).sort()).toEqual([...raced].sort());
        expect(await records(database)).toEqual(raced);
        expect((await head(database)).map((row) => Number(row.applied_count))).toEqual([raced.length]);
      });

      it('recovers from a holder killed with SIGKILL inside a slow migration, with no manual unlock', {
        timeout: 180_000,
      }, async () => {
        // Where a dead holder's lease is taken over at once, a lease far longer than the next run's lock
        // timeout: only that takeover lets it in.
        const leaseTtlMs = engine.capabilities.takesOverDeadHolder ? 300_000 : LEASE_TTL_MS;
        const slow = traits.stall.files('900_slow');
        folder = await auditedMigrations(traits.currentApp, 2, slow);
        const holder = startInstance({ url: url(), dir: folder.dir, strategy, name: 'holder', leaseTtlMs });
        await traits.stall.reached(database, holder, '900_slow');
        holder.child.kill('SIGKILL');
        expect((await holder.done).signal).toBe('SIGKILL');

        // The holder recorded what it finished, and not the migration it was killed in: nothing to delete.
        // That migration's transaction died with it: its audit row is gone.
        expect(await records(database)).toEqual(['000_audit', '001_step', '002_step']);
        const removed = await database.db
          .deleteFrom('mig_migrations')
          .where('name', '=', '900_slow')
          .executeTakeFirst();
        expect(removed.numDeletedRows).toBe(0n);
        expect(await auditCounts(database)).toEqual({ '001_step': 1, '002_step': 1 });
        if (strategy === 'lease') {
          const lease = await sql<{ owner: string }>`select owner from mig_migrations_lock`.execute(database.db);
          // host:pid@pidns:random (the pid namespace where the system has one)
          expect(lease.rows[0]?.owner).toMatch(/:\d+(@\d+)?:[0-9a-f]{8}$/);
        }

        // The slow migration is replaced by a quick one, as an operator would after a failed deploy.
        for (const file of Object.keys(slow)) await folder.remove(file);
        await folder.write('900_slow.mjs', quickMigration('900_slow'));
        const next = await startInstance({
          url: url(),
          dir: folder.dir,
          strategy,
          name: 'next',
          leaseTtlMs,
          lockTimeoutMs: traits.stall.recoveryMs,
        }).done;
        const result = outcome(next);
        expect(result.error, next.stderr).toBeNull();
        expect(result.applied).toEqual(['900_slow']);
        if (engine.capabilities.takesOverDeadHolder) {
          expect(next.stderr).toContain('took over the migration lease');
          expect(next.stderr).toContain(String(holder.child.pid));
        }
        // The killed migration left nothing: only the new instance's audit row exists.
        expect(await auditApps(database, '900_slow')).toEqual([{ app: 'next' }]);
      });

      it('times a waiter out after the lock timeout, naming the holder, and leaves the holder unaffected', {
        timeout: 120_000,
      }, async () => {
        // The holder stays inside its migration until the test opens the gate, however slow the machine is to
        // start the waiter: the waiter can only time out, never outlast the holder.
        folder = await auditedMigrations(traits.currentApp, 1);
        const gate = join(folder.dir, 'gate');
        await folder.write('900_slow.mjs', gatedMigration('900_slow', gate));
        const holder = startInstance({
          url: url(),
          dir: folder.dir,
          strategy,
          name: 'holder-app',
          leaseTtlMs: LEASE_TTL_MS,
        });
        await holder.waitFor(/^started 900_slow$/, 60_000);
        let holderEnded = false;
        void holder.done.then(() => {
          holderEnded = true;
        });
        const sessionHolder =
          strategy === 'advisory' ? await traits.sessionHolder?.(database, 'holder-app') : undefined;
        let waiterRun: ProcessResult;
        try {
          waiterRun = await startInstance({
            url: url(),
            dir: folder.dir,
            strategy,
            name: 'waiter',
            lockTimeoutMs: 1_000,
          }).done;
          // It gave up while the holder was still inside its migration, holding the lock.
          expect(holderEnded).toBe(false);
        } finally {
          await writeFile(gate, 'open');
        }
        const waiter = outcome(waiterRun);
        expect(waiterRun.code).toBe(3);
        expect(waiter.error?.code).toBe('LOCK_TIMEOUT');
        const message = waiter.error?.message ?? '';
        const waited = Number(message.match(/Timed out after (\d+) ms waiting for the migration lock/)?.[1]);
        // Not before the timeout; and it ends at the timeout, plus at most one attempt's overrun (1 s of grace),
        // with room for a loaded machine.
        expect(waited).toBeGreaterThanOrEqual(1_000);
        expect(waiter.lockWaitMs).toBeGreaterThanOrEqual(1_000);
        expect(waiter.lockWaitMs).toBeLessThan(5_000);
        if (strategy === 'advisory') {
          // A session lock's holder is named by its session (PostgreSQL: its application; MySQL: its connection).
          expect(sessionHolder).toBeDefined();
          expect(message).toContain(sessionHolder);
        } else {
          // A lease's holder by its owner: host, pid and a random part.
          expect(message).toMatch(/held by [^ ]+:\d+(@\d+)?:[0-9a-f]{8} since/);
          expect(message).toMatch(new RegExp(`:${holder.child.pid}(@\\d+)?:`));
        }
        expect(waiter.applied).toEqual([]);

        const done = outcome(await holder.done);
        expect(done.error).toBeNull();
        expect(done.applied).toContain('900_slow');
        expect(await auditApps(database, '900_slow')).toEqual([{ app: 'holder-app' }]);
      });
    });

    it('reports an edited applied migration as drift and applies nothing', { timeout: 120_000 }, async () => {
      folder = await auditedMigrations(traits.currentApp, 2);
      const start = (name: string, command?: 'status') =>
        startInstance({ url: url(), dir: folder!.dir, name, command });
      expect(outcome(await start('first').done).error).toBeNull();
      await folder.write(
        '001_step.sql',
        "create table t_1 (id int, edited int);\ninsert into audit (migration) values ('001_step');\n",
      );
      await folder.write('003_step.sql', 'create table t_3 (id int);\n');
      const status = outcome(await start('status', 'status').done);
      expect(status.state).toBe('drifted');
      expect(status.problems).toEqual([expect.objectContaining({ kind: 'changed', name: '001_step' })]);
      const again = outcome(await start('again').done);
      expect(again.error?.code).toBe('DRIFT');
      expect(again.error?.message).toContain('001_step');
      expect(again.applied).toEqual([]);
      expect(await records(database)).toEqual(['000_audit', '001_step', '002_step']);
      expect(await database.tables()).not.toContain('t_3');
    });

    it('writes nothing on a dry run: not even its own tables (nor a file where there was none), and no change to an existing database', {
      timeout: 120_000,
    }, async () => {
      folder = await auditedMigrations(traits.currentApp, 2, {
        '500_code.mjs': codeMigration('500_code', 'from_code'),
      });
      const start = (name: string, command?: 'dry-run') =>
        startInstance({ url: url(), dir: folder!.dir, name, command });
      const names = ['000_audit', '001_step', '002_step', '500_code'];
      const existed = database.exists();
      const dry = outcome(await start('dry', 'dry-run').done);
      expect(dry.error).toBeNull();
      expect(dry.applied).toEqual([]);
      expect(dry.planned).toEqual(names);
      expect(database.exists()).toBe(existed);
      expect(await database.tables()).toEqual([]);

      // The same folder then applies for real.
      const real = outcome(await start('real').done);
      expect(real.applied).toEqual(names);
      expect(await database.tables()).toEqual([
        'audit',
        'from_code',
        'mig_migrations',
        'mig_migrations_head',
        'mig_migrations_lock',
        't_1',
        't_2',
      ]);
      await folder.write('600_more.sql', 'create table t_more (id int);\n');
      const tablesBefore = await database.tables();
      const headBefore = await head(database);
      const again = outcome(await start('dry-again', 'dry-run').done);
      expect(again.error).toBeNull();
      expect(again.planned).toEqual(['600_more']);
      expect(await database.tables()).toEqual(tablesBefore);
      expect(await head(database)).toEqual(headBefore);
      expect(await records(database)).toEqual(names);
    });

    // Where DDL is not transactional, a failed migration's DDL stays (engines/mysql/store.test.ts).
    if (engine.capabilities.transactionalDdl) {
      it('leaves neither the changes nor the record of a failing migration, and applies it once fixed', {
        timeout: 120_000,
      }, async () => {
        const broken = "create table t_broken (id int);\ninsert into audit (migration) values ('002_broken');\n";
        folder = await auditedMigrations(traits.currentApp, 1, {
          '002_broken.sql': `${broken}insert into no_such_table values (1);\n`,
        });
        const start = (name: string) => startInstance({ url: url(), dir: folder!.dir, name });
        const failed = await start('failed').done;
        const result = outcome(failed);
        expect(failed.code).toBe(1);
        expect(result.error?.code).toBe('MIGRATION_FAILED');
        expect(result.error?.message).toContain('002_broken');
        expect(await records(database)).toEqual(['000_audit', '001_step']);
        expect(await database.tables()).not.toContain('t_broken');
        expect(await auditCounts(database)).toEqual({ '001_step': 1 });

        await folder.write('002_broken.sql', broken);
        const fixed = outcome(await start('fixed').done);
        expect(fixed.error).toBeNull();
        expect(fixed.applied).toEqual(['002_broken']);
        expect(await database.tables()).toContain('t_broken');
      });
    }

    describe('creating the store tables from several processes at once', () => {
      it('succeeds in every process', async () => {
        // Each process connects first, then all create the tables at the same instant.
        const startAt = String(Date.now() + 2_000);
        const runs = await Promise.all(Array.from({ length: 8 }, () => runNode(PREPARE_STORE, [url(), startAt])));
        for (const run of runs) {
          expect(run.stderr).toBe('');
          expect(run.stdout.trim()).toBe('prepared');
          expect(run.code).toBe(0);
        }
        const { rows } = await sql<{ applied_count: number; schema_version: number }>`
        select applied_count, schema_version from mig_migrations_head`.execute(database.db);
        expect(rows).toEqual([{ applied_count: 0, schema_version: STORE_SCHEMA_VERSION }]);
      });
    });
  });
}
