import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MigrationFolder } from './support/migrations.js';
import {
  createTestSqlite,
  gatedMigration,
  quickMigration,
  sqliteAuditedMigrations,
  sqliteOutcome,
  startSqliteInstance,
  type TestSqlite,
} from './support/sqlite.js';

// Real processes on one SQLite file: the lease row as the lock, BEGIN IMMEDIATE per migration with the
// head compared and swapped inside it. The instances run the built packages (fixtures/sqlite-migrate.mjs).

async function auditCounts(file: TestSqlite): Promise<Record<string, number>> {
  const { rows } = await sql<{ migration: string; n: number }>`
    select migration, count(*) as n from audit group by migration order by migration`.execute(file.db);
  return Object.fromEntries(rows.map((r) => [r.migration, Number(r.n)]));
}

async function recordNames(file: TestSqlite): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from mig_migrations order by id`.execute(file.db);
  return rows.map((r) => r.name);
}

describe('SQLite across real processes sharing one file', () => {
  let file: TestSqlite;
  let folder: MigrationFolder | undefined;

  beforeEach(async () => {
    file = await createTestSqlite();
  });
  afterEach(async () => {
    await file.close();
    await folder?.dispose();
    folder = undefined;
  });

  it('applies each migration exactly once when 20 instances race up, and all of them succeed', {
    timeout: 240_000,
  }, async () => {
    folder = await sqliteAuditedMigrations(12, { '013_code.mjs': quickMigration('013_code') });
    const startAt = Date.now() + 5_000;
    const runs = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => startSqliteInstance({ path: file.path, dir: folder!.dir, name: `proc-${i}`, startAt }).done,
      ),
    );
    const outcomes = runs.map(sqliteOutcome);
    for (const [i, run] of runs.entries()) {
      expect(outcomes[i]?.error, run.stderr).toBeNull();
      expect(run.code).toBe(0);
    }
    const expected = [
      '000_audit',
      ...Array.from({ length: 12 }, (_, i) => `${String(i + 1).padStart(3, '0')}_step`),
      '013_code',
    ];
    // Every migration ran once (its audit row), and was reported applied by exactly one instance.
    const counts = await auditCounts(file);
    expect(Object.keys(counts).sort()).toEqual(expected.slice(1).sort());
    expect(Object.values(counts).every((n) => n === 1)).toBe(true);
    expect(outcomes.flatMap((o) => o.applied).sort()).toEqual([...expected].sort());
    expect(await recordNames(file)).toEqual(expected);
    const { rows } = await sql<{ applied_count: number }>`select applied_count from mig_migrations_head`.execute(
      file.db,
    );
    expect(rows).toEqual([{ applied_count: expected.length }]);
  });

  it('recovers from a holder killed with SIGKILL inside a migration, with no manual work', {
    timeout: 120_000,
  }, async () => {
    const gate = join(file.dir, 'never-opened');
    folder = await sqliteAuditedMigrations(2, { '900_slow.mjs': gatedMigration('900_slow', gate) });
    // A lease far longer than the next run's lock timeout: only the takeover of a dead holder lets it in.
    const holder = startSqliteInstance({ path: file.path, dir: folder.dir, name: 'holder', leaseTtlMs: 300_000 });
    await holder.waitFor(/^started 900_slow$/, 60_000);
    holder.child.kill('SIGKILL');
    expect((await holder.done).signal).toBe('SIGKILL');

    // The killed migration's transaction died with it: its audit row is gone, and it has no record.
    expect(await recordNames(file)).toEqual(['000_audit', '001_step', '002_step']);
    expect(await auditCounts(file)).toEqual({ '001_step': 1, '002_step': 1 });
    const lease = await sql<{ owner: string }>`select owner from mig_migrations_lock`.execute(file.db);
    expect(lease.rows[0]?.owner).toMatch(/:\d+:[0-9a-f]{8}$/);

    await folder.write('900_slow.mjs', quickMigration('900_slow'));
    const next = await startSqliteInstance({
      path: file.path,
      dir: folder.dir,
      name: 'next',
      leaseTtlMs: 300_000,
      lockTimeoutMs: 30_000,
    }).done;
    const result = sqliteOutcome(next);
    expect(result.error, next.stderr).toBeNull();
    expect(result.applied).toEqual(['900_slow']);
    expect(next.stderr).toContain('took over the migration lease');
    expect(next.stderr).toContain(String(holder.child.pid));
    const { rows } = await sql<{ app: string }>`select app from audit where migration = '900_slow'`.execute(file.db);
    expect(rows).toEqual([{ app: 'next' }]);
  });

  it('times a waiter out after the lock timeout, naming the holder, and leaves the holder unaffected', {
    timeout: 120_000,
  }, async () => {
    const gate = join(file.dir, 'gate');
    folder = await sqliteAuditedMigrations(1, { '900_slow.mjs': gatedMigration('900_slow', gate) });
    const holder = startSqliteInstance({ path: file.path, dir: folder.dir, name: 'holder' });
    await holder.waitFor(/^started 900_slow$/, 60_000);
    let waiterRun: Awaited<ReturnType<typeof startSqliteInstance>['done']>;
    try {
      waiterRun = await startSqliteInstance({ path: file.path, dir: folder.dir, name: 'waiter', lockTimeoutMs: 1_000 })
        .done;
      // It gave up while the holder was still inside its migration.
      expect(holder.child.exitCode).toBeNull();
    } finally {
      await writeFile(gate, 'open');
    }
    const waiter = sqliteOutcome(waiterRun);
    expect(waiterRun.code).toBe(3);
    expect(waiter.error?.code).toBe('LOCK_TIMEOUT');
    expect(waiter.error?.message).toMatch(/held by [^ ]+:\d+:[0-9a-f]{8} since/);
    expect(waiter.error?.message).toContain(`:${holder.child.pid}:`);
    expect(waiter.applied).toEqual([]);

    const done = sqliteOutcome(await holder.done);
    expect(done.error).toBeNull();
    expect(done.applied).toContain('900_slow');
    const { rows } = await sql<{ app: string }>`select app from audit where migration = '900_slow'`.execute(file.db);
    expect(rows).toEqual([{ app: 'holder' }]);
  });

  it('reports an edited applied migration as drift and applies nothing', { timeout: 60_000 }, async () => {
    folder = await sqliteAuditedMigrations(2);
    const first = sqliteOutcome(await startSqliteInstance({ path: file.path, dir: folder.dir, name: 'first' }).done);
    expect(first.error).toBeNull();
    await folder.write(
      '001_step.sql',
      "create table t_1 (id integer, edited text);\ninsert into audit (migration, app) values ('001_step', 'sql');\n",
    );
    await folder.write('003_step.sql', 'create table t_3 (id integer);\n');
    const second = sqliteOutcome(await startSqliteInstance({ path: file.path, dir: folder.dir, name: 'second' }).done);
    expect(second.error?.code).toBe('DRIFT');
    expect(second.error?.message).toContain('001_step');
    expect(second.applied).toEqual([]);
    expect(await recordNames(file)).toEqual(['000_audit', '001_step', '002_step']);
    expect(await file.tables('t_3')).toEqual([]);
  });

  it('writes nothing on a dry run: no file where there was none, and no change to an existing one', {
    timeout: 60_000,
  }, async () => {
    folder = await sqliteAuditedMigrations(2);
    const dry = sqliteOutcome(
      await startSqliteInstance({ path: file.path, dir: folder.dir, name: 'dry', dryRun: true }).done,
    );
    expect(dry.error).toBeNull();
    expect(dry.planned).toEqual(['000_audit', '001_step', '002_step']);
    expect(file.exists()).toBe(false);

    const real = sqliteOutcome(await startSqliteInstance({ path: file.path, dir: folder.dir, name: 'real' }).done);
    expect(real.applied).toEqual(['000_audit', '001_step', '002_step']);
    await folder.write('003_step.sql', 'create table t_3 (id integer);\n');
    const tablesBefore = await file.tables();
    const headBefore = await sql`select * from mig_migrations_head`.execute(file.db);
    const again = sqliteOutcome(
      await startSqliteInstance({ path: file.path, dir: folder.dir, name: 'dry-again', dryRun: true }).done,
    );
    expect(again.error).toBeNull();
    expect(again.planned).toEqual(['003_step']);
    expect(await file.tables()).toEqual(tablesBefore);
    expect((await sql`select * from mig_migrations_head`.execute(file.db)).rows).toEqual(headBefore.rows);
    expect(await recordNames(file)).toEqual(['000_audit', '001_step', '002_step']);
  });

  it('leaves neither the changes nor the record of a failing migration, and applies it once fixed', {
    timeout: 60_000,
  }, async () => {
    folder = await sqliteAuditedMigrations(1, {
      '002_broken.sql':
        "create table t_broken (id integer);\ninsert into audit (migration, app) values ('002_broken', 'sql');\ninsert into no_such_table values (1);\n",
    });
    const failed = await startSqliteInstance({ path: file.path, dir: folder.dir, name: 'failed' }).done;
    const outcome = sqliteOutcome(failed);
    expect(failed.code).toBe(1);
    expect(outcome.error?.code).toBe('MIGRATION_FAILED');
    expect(outcome.error?.message).toContain('002_broken');
    expect(await recordNames(file)).toEqual(['000_audit', '001_step']);
    expect(await file.tables('t_broken')).toEqual([]);
    expect(await auditCounts(file)).toEqual({ '001_step': 1 });

    await folder.write(
      '002_broken.sql',
      "create table t_broken (id integer);\ninsert into audit (migration, app) values ('002_broken', 'sql');\n",
    );
    const fixed = sqliteOutcome(await startSqliteInstance({ path: file.path, dir: folder.dir, name: 'fixed' }).done);
    expect(fixed.error).toBeNull();
    expect(fixed.applied).toEqual(['002_broken']);
    expect(await file.tables('t_broken')).toEqual(['t_broken']);
  });
});
