import { createMigrator, MigrationFailedError } from '@mig/core';
import type { LockWait } from '@mig/core/adapter';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import { ADVISORY_CLASS_ID, advisoryObjectId } from '../../../src/engines/postgres/index.js';
import { createFolderSource, createKyselyAdapter, createKyselyStore } from '../../../src/index.js';
import { type MigrationFolder, migrationFolder } from '../../support/migrations.js';

describe('a migration waiting for a table lock another session holds', () => {
  let database: TestDatabase;
  let folder: MigrationFolder;
  beforeEach(async () => {
    database = await createTestDatabase('lock_wait');
    folder = await migrationFolder({ '001_todos.sql': 'create table todos (id int);\n' });
  });
  afterEach(async () => {
    await database.drop();
    await folder.dispose();
  });

  it('gives up after lockWaitTimeoutMs, saying what it waited for, and leaves nothing behind', async () => {
    const migrate = (lockWaitTimeoutMs: number) =>
      createMigrator({
        source: createFolderSource(folder.dir),
        store: createKyselyStore({ db: database.db, lockWaitTimeoutMs }),
      }).up();
    expect((await migrate(300)).error).toBeUndefined();
    await folder.write('002_column.sql', 'alter table todos add column title text;\n');

    const app = new pg.Client({ connectionString: database.url });
    await app.connect();
    try {
      // A long application transaction holding the table.
      await app.query('begin');
      await app.query('lock table todos in access share mode');
      const result = await migrate(300);
      expect(result.error).toBeInstanceOf(MigrationFailedError);
      expect(result.error?.message).toContain('canceling statement due to lock timeout');
      expect(result.error?.message).toContain('waited more than 300 ms for a lock that another session holds');
      const { rows } = await database.query(
        `select column_name from information_schema.columns where table_name = 'todos' order by 1`,
      );
      expect(rows).toEqual([{ column_name: 'id' }]);
    } finally {
      await app.query('rollback');
      await app.end();
    }
    expect((await migrate(300)).error).toBeUndefined();
  });
});

describe('an instance waiting for the migration lock', () => {
  let database: TestDatabase;
  let folder: MigrationFolder;
  beforeEach(async () => {
    database = await createTestDatabase('waiter');
    folder = await migrationFolder({
      '001_todos.sql': 'create table todos (id int);\n',
      '002_tags.sql': 'create table tags (id int);\n',
    });
  });
  afterEach(async () => {
    await database.drop();
    await folder.dispose();
  });

  it('stops waiting as soon as the holder has applied what it came for, without taking the lock', async () => {
    const holder = new pg.Client({ connectionString: database.url, application_name: 'holder' });
    await holder.connect();
    try {
      const objectId = advisoryObjectId('public.mig_migrations');
      await holder.query('select pg_advisory_lock($1, $2)', [ADVISORY_CLASS_ID, objectId]);
      const holderPid = (await holder.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
      const adapter = createKyselyAdapter({ db: database.db });
      const waits: LockWait[] = [];
      const acquired: number[] = [];
      let firstBusyAt = Number.NaN;
      const waiting = createMigrator({
        source: createFolderSource(folder.dir),
        store: adapter.store,
        lock: adapter.createLock(),
        lockTimeoutMs: 30_000,
      }).up({
        onProgress: (event) => {
          if (event.type === 'lock-wait') {
            if (waits.length === 0) firstBusyAt = performance.now();
            waits.push(event.wait);
          }
          if (event.type === 'lock-acquired') acquired.push(event.waitedMs);
        },
      });
      // The waiter finds the lock busy (however long it takes to get there) before the holder's work is done.
      for (let i = 0; i < 3_000 && waits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(waits.length).toBeGreaterThan(0);
      expect(waits[0]?.holder).toMatchObject({ pid: holderPid, applicationName: 'holder' });
      // The holder's work, done meanwhile (here without a lock, as the holder itself would under it).
      const workStartedAt = performance.now();
      const applied = await createMigrator({ source: createFolderSource(folder.dir), store: adapter.store }).up();
      expect(applied.error).toBeUndefined();
      const result = await waiting;
      expect(result.error).toBeUndefined();
      expect(result.results).toEqual([]);
      expect(result.status).toMatchObject({ state: 'up-to-date', appliedCount: 2 });
      // It waited, from before its first busy attempt until after the holder's work had started.
      expect(result.lockWaitMs).toBeGreaterThanOrEqual(workStartedAt - firstBusyAt);
      expect(acquired).toEqual([]);
      // It finished while the lock was still held by the other session: this database's mig locks are the
      // holder's migration lock and nothing else.
      const { rows } = await database.query(
        `select pid, objid::text as objid from pg_locks
         where locktype = 'advisory' and granted and classid = $1::int::oid
           and database = (select oid from pg_database where datname = current_database())`,
        [ADVISORY_CLASS_ID],
      );
      expect(rows).toEqual([{ pid: holderPid, objid: String(objectId) }]);
    } finally {
      await holder.end();
    }
  });
});
