// `transaction: 'all'` (`mig up --single-transaction`): every pending migration and its record in one
// transaction, on each engine of the matrix. Where DDL is transactional a failure leaves nothing at all; where
// it is not (MySQL), the mode is refused before anything runs.
import { createMigrator, InvalidOptionError, MigErrorCode, MigrationFailedError, type RunOptions } from '@mig/core';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFolderSource, createKyselyAdapter, createKyselyStore } from '../src/index.js';
import { ENGINES, type EngineDatabase } from './support/engines.js';
import { type MigrationFolder, migrationFolder } from './support/migrations.js';

const ALL: RunOptions = { transaction: 'all' };

const FILES = {
  '001_a.sql': 'create table mig_all_a (id integer not null);\n',
  '002_fill.sql': 'insert into mig_all_a (id) values (1);\ninsert into mig_all_a (id) values (2);\n',
  '003_b.sql': 'create table mig_all_b (id integer not null);\n',
};

describe.each(ENGINES)('one transaction for every pending migration, on $name', (engine) => {
  let handle: EngineDatabase;
  let folder: MigrationFolder;
  const migrator = (transaction?: 'each' | 'all') =>
    createMigrator({
      source: createFolderSource(folder.dir),
      store: createKyselyStore({ db: handle.db }),
      transaction,
    });
  const recorded = async () => {
    const status = await migrator().inspect();
    return status.applied.map((m) => m.name);
  };

  beforeEach(async () => {
    handle = await engine.open();
    folder = await migrationFolder(FILES);
  });
  afterEach(async () => {
    await handle.close();
    await folder.dispose();
  });

  if (!engine.capabilities.transactionalDdl) {
    it('is refused with the reason, before anything runs', async () => {
      const result = await migrator().up(ALL);
      expect(result.error).toBeInstanceOf(InvalidOptionError);
      expect(result.error?.code).toBe(MigErrorCode.InvalidOption);
      expect(result.error?.message).toMatch(/MySQL and MariaDB commit each DDL statement implicitly/);
      expect(result.error?.message).toMatch(/Nothing was applied/);
      expect(result.results).toEqual([]);
      expect(await handle.tables()).not.toContain('mig_all_a');
      // The default mode still works, and a dry run in this mode says the same as the run.
      expect((await migrator().up({ ...ALL, dryRun: true })).error?.code).toBe(MigErrorCode.InvalidOption);
      expect((await migrator().up()).error).toBeUndefined();
    });
    return;
  }

  it('applies and records every pending migration, with the same history as one at a time', async () => {
    const result = await migrator('all').up();
    expect(result.error).toBeUndefined();
    expect(result.results.map((r) => [r.name, r.status])).toEqual([
      ['001_a', 'applied'],
      ['002_fill', 'applied'],
      ['003_b', 'applied'],
    ]);
    expect(result.status?.state).toBe('up-to-date');
    expect(await recorded()).toEqual(['001_a', '002_fill', '003_b']);
    const { rows } = await sql<{ n: number | string }>`select count(*) as n from mig_all_a`.execute(handle.db);
    expect(Number(rows[0]?.n)).toBe(2);
    // A migrator in the default mode reads the same head: nothing pending, no drift.
    expect((await migrator('each').status()).state).toBe('up-to-date');
    expect((await migrator('all').up()).results).toEqual([]);
  });

  if (engine.capabilities.system === 'postgresql') {
    it("records each migration's own duration, not the transaction's", async () => {
      await folder.write('002_fill.sql', 'select pg_sleep(0.2);\n');
      expect((await migrator('all').up()).error).toBeUndefined();
      const durations = new Map((await migrator().inspect()).applied.map((m) => [m.name, m.durationMs]));
      expect(durations.get('002_fill')).toBeGreaterThanOrEqual(190);
      expect(durations.get('003_b')).toBeLessThan(190);
      expect(durations.get('001_a')).toBeLessThan(190);
    });
  }

  it('leaves nothing when one migration fails: not its changes, not the ones before it, not a record', async () => {
    await folder.write('004_broken.sql', 'insert into mig_all_missing (id) values (1);\n');
    const result = await migrator().up(ALL);
    expect(result.error).toBeInstanceOf(MigrationFailedError);
    expect(result.error?.message).toMatch(/"004_broken"/);
    expect(result.error?.message).toMatch(
      /in one transaction with 3 other pending migration\(s\).*nothing was applied/,
    );
    expect(result.results.map((r) => [r.name, r.status])).toEqual([
      ['001_a', 'not-run'],
      ['002_fill', 'not-run'],
      ['003_b', 'not-run'],
      ['004_broken', 'failed'],
    ]);
    const tables = await handle.tables();
    expect(tables).not.toContain('mig_all_a');
    expect(tables).not.toContain('mig_all_b');
    expect(await recorded()).toEqual([]);
    expect((await migrator().status()).state).toBe('pending');

    // Mended, the same run applies all four.
    await folder.write('004_broken.sql', 'insert into mig_all_a (id) values (3);\n');
    const again = await migrator().up(ALL);
    expect(again.error).toBeUndefined();
    expect(await recorded()).toEqual(['001_a', '002_fill', '003_b', '004_broken']);
  });

  const strategies = engine.capabilities.sessionLocks ? (['advisory', 'lease'] as const) : (['lease'] as const);
  it.each(strategies)('runs under the %s lock, its fence checked in the same transaction', async (strategy) => {
    const adapter = createKyselyAdapter({ db: handle.db });
    const run = createMigrator({
      source: createFolderSource(folder.dir),
      store: adapter.store,
      lock: adapter.createLock({ strategy }),
      transaction: 'all',
    });
    const result = await run.up();
    expect(result.error).toBeUndefined();
    expect(result.results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
    expect(await recorded()).toEqual(['001_a', '002_fill', '003_b']);
    // The lock was let go: another run takes it at once, with nothing to do.
    expect((await run.up({ lockTimeoutMs: 1_000 })).error).toBeUndefined();
  });

  it('builds on a history applied one at a time', async () => {
    expect((await migrator().up({ to: '001_a' })).error).toBeUndefined();
    const result = await migrator().up(ALL);
    expect(result.error).toBeUndefined();
    expect(result.results.map((r) => r.name)).toEqual(['002_fill', '003_b']);
    expect(await recorded()).toEqual(['001_a', '002_fill', '003_b']);
  });

  if (engine.capabilities.nonTransactional) {
    it('refuses a migration that runs outside a transaction, naming it, before anything runs', async () => {
      await folder.write('002_fill.sql', '-- mig:no-transaction\ninsert into mig_all_a (id) values (1);\n');
      for (const options of [ALL, { ...ALL, dryRun: true }]) {
        const result = await migrator().up(options);
        expect(result.error).toBeInstanceOf(InvalidOptionError);
        expect(result.error?.message).toMatch(/cannot hold a migration that runs outside a transaction/);
        expect(result.error?.message).toMatch(/\n {2}002_fill\n/);
      }
      expect(await handle.tables()).not.toContain('mig_all_a');
      expect(await recorded()).toEqual([]);
    });
  }
});
