import { createStatusCache } from '@mig/cache';
import {
  createMigrator,
  MigErrorCode,
  MigrationFailedError,
  type MigrationStatus,
  PendingMigrationsError,
} from '@mig/core';
import { systemClock } from '@mig/core/adapter';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { ADVISORY_CLASS_ID, advisoryObjectId } from '../src/engines/postgres/index.js';
import { createFolderSource, createKyselyAdapter, createKyselyStore } from '../src/index.js';
import { type MigrationFolder, migrationFolder } from './support/migrations.js';
import { pgliteService, postgresService, type ServiceHarness } from './support/service-harness.js';

const MIGRATIONS = {
  '001_todos.sql': 'create table todos (id serial primary key, title text not null);\n',
  '002_done.sql': 'alter table todos add column done boolean not null default false;\n',
};

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (up to 10 s) until `done` holds: background work has no promise to await. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !done(); i++) await tick(10);
  expect(done()).toBe(true);
}

/** Takes the migration lock as another instance would: another session (PostgreSQL) or caller (PGlite). */
async function holdMigrationLock(
  engine: 'postgres' | 'pglite',
  db: Kysely<any>,
  database: TestDatabase | undefined,
): Promise<() => Promise<void>> {
  if (engine === 'postgres') {
    const other = new pg.Client({ connectionString: database?.url, application_name: 'other-instance' });
    await other.connect();
    await other.query('select pg_advisory_lock($1, $2)', [
      ADVISORY_CLASS_ID,
      advisoryObjectId('public.mig_migrations'),
    ]);
    return () => other.end();
  }
  const lease = await createKyselyAdapter({ db, target: { namespace: 'pglite', server: 'embedded' } })
    .createLock()
    .acquire({ timeoutMs: 1_000 });
  return () => lease.release();
}

async function tableExists(db: Kysely<any>, name: string): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`select to_regclass(${name})::text as t`.execute(db);
  return rows[0]?.t !== null;
}

async function migrateDirectly(db: Kysely<any>, dir: string): Promise<void> {
  const result = await createMigrator({ source: createFolderSource(dir), store: createKyselyStore({ db }) }).up();
  if (result.error) throw result.error;
}

describe.each([{ engine: 'postgres' as const }, { engine: 'pglite' as const }])(
  'the database service on $engine',
  ({ engine }) => {
    let database: TestDatabase | undefined;
    let folder: MigrationFolder;
    let harness: ServiceHarness | undefined;

    const open = async (overrides: Parameters<typeof postgresService>[2] = {}) => {
      harness =
        engine === 'postgres'
          ? postgresService(database as TestDatabase, folder.dir, overrides)
          : await pgliteService(folder.dir, overrides);
      return harness;
    };

    beforeEach(async () => {
      if (engine === 'postgres') database = await createTestDatabase('service');
      folder = await migrationFolder(MIGRATIONS);
    });
    afterEach(async () => {
      await harness?.close();
      harness = undefined;
      await database?.drop();
      database = undefined;
      await folder.dispose();
    });

    it('migrates lazily on first use, then answers 10,000 calls without a single query', async () => {
      const { service, db, queries, resetQueries, cache } = await open({ autoMigrate: true });
      expect(service.state()).toMatchObject({ phase: 'idle', serving: false, migrations: 'unknown' });
      expect(queries()).toBe(0); // creating the service does nothing

      const conn = await service.ensureInitialized();
      expect(conn).toBe(db);
      expect(await tableExists(db, 'todos')).toBe(true);
      expect(service.state()).toMatchObject({
        phase: 'ready',
        serving: true,
        healthy: true,
        migrations: 'applied',
        appliedHere: ['001_todos', '002_done'],
        appliedCount: 2,
        pending: [],
      });

      resetQueries();
      const before = cache.stats();
      for (let i = 0; i < 10_000; i++) await service.ensureInitialized();
      expect(queries()).toBe(0);
      // The ready path's freshness test is not a cache lookup: no hit, no miss, no load.
      expect(cache.stats()).toMatchObject({ hits: before.hits, misses: before.misses, loads: before.loads });
    });

    it('shares one initialization among 100 concurrent first calls: one status check', async () => {
      const { service, db, queryTexts, resetQueries } = await open({ autoMigrate: true });
      await migrateDirectly(db, folder.dir);
      resetQueries();
      const results = await Promise.all(Array.from({ length: 100 }, () => service.ensureInitialized()));
      expect(new Set(results).size).toBe(1);
      expect(queryTexts().filter((t) => t.includes('applied_count'))).toHaveLength(1);
      expect(service.state()).toMatchObject({ phase: 'ready', migrations: 'up-to-date' });
      expect(service.state().lastCheck?.source).toBe('database');
    });

    it('warn: serves with pending migrations when automatic migration is off, applying nothing', async () => {
      const { service, db } = await open({ autoMigrate: false, onPending: 'warn' });
      await service.ensureInitialized();
      expect(service.state()).toMatchObject({
        phase: 'ready',
        serving: true,
        healthy: true,
        migrations: 'pending',
        pending: ['001_todos', '002_done'],
        policy: { autoMigrate: false, onPending: 'warn' },
      });
      expect(await tableExists(db, 'todos')).toBe(false);
      expect(await tableExists(db, 'mig_migrations')).toBe(false);
    });

    it('refuse: rejects with pending migrations, without I/O during the backoff, and serves once they are applied', async () => {
      // The service's time stands still unless the test moves it: a slow machine cannot end the backoff early.
      let now = 0;
      const { service, db, queries, resetQueries } = await open({
        autoMigrate: false,
        onPending: 'refuse',
        retryBackoff: { initialMs: 300 },
        clock: { ...systemClock, now: () => now },
      });
      const error = await service.ensureInitialized().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PendingMigrationsError);
      expect((error as Error).message).toContain('2 migration(s) pending');
      expect(service.state()).toMatchObject({ phase: 'failed', serving: false, healthy: false, migrations: 'pending' });
      expect(service.state().lastError?.code).toBe(MigErrorCode.Pending);

      resetQueries();
      await expect(service.ensureInitialized()).rejects.toBe(error);
      expect(queries()).toBe(0);

      await migrateDirectly(db, folder.dir); // the operator runs `mig up`
      now += 299; // still within the backoff: the same answer, without a look at the database
      resetQueries();
      await expect(service.ensureInitialized()).rejects.toBe(error);
      expect(queries()).toBe(0);
      now += 1; // the backoff has passed: the next call checks again
      await service.ensureInitialized();
      expect(service.state()).toMatchObject({ phase: 'ready', migrations: 'up-to-date', healthy: true });
    });

    it('throw: a failing migration rejects, rolls back, and is retried after the backoff', async () => {
      await folder.write(
        '003_needs_setup.sql',
        'create table report (id int);\ninsert into report select id from setup;\n',
      );
      // The service's time stands still unless the test moves it: a slow machine cannot end the backoff early.
      let now = 0;
      const { service, db, queries, resetQueries } = await open({
        autoMigrate: true,
        retryBackoff: { initialMs: 200 },
        clock: { ...systemClock, now: () => now },
      });
      const error = await service.ensureInitialized().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationFailedError);
      expect((error as Error).message).toContain('"003_needs_setup"');
      expect((error as Error).message).toContain('relation "setup" does not exist');
      expect(await tableExists(db, 'report')).toBe(false);
      expect(service.state()).toMatchObject({
        phase: 'failed',
        serving: false,
        migrations: 'failed',
        appliedHere: ['001_todos', '002_done'],
      });
      expect(service.state().retryAt).not.toBeNull();

      // During the backoff the failure is answered without touching the database.
      resetQueries();
      await expect(service.ensureInitialized()).rejects.toBe(error);
      expect(queries()).toBe(0);

      await sql`create table setup (id int)`.execute(db); // the cause goes away
      now += 199; // still within the backoff: the same failure, not a new attempt
      resetQueries();
      await expect(service.ensureInitialized()).rejects.toBe(error);
      expect(queries()).toBe(0);
      expect(await tableExists(db, 'report')).toBe(false);
      now += 1; // the backoff has passed: the next call retries
      await service.ensureInitialized();
      expect(service.state()).toMatchObject({ phase: 'ready', migrations: 'applied', lastError: null });
      expect(await tableExists(db, 'report')).toBe(true);
    });

    it('degrade: serves while another instance holds the lock, then recovers once it lets go', async () => {
      let now = 0; // the service's time: the backoff ends when the test says so
      const { service, db } = await open({
        autoMigrate: true,
        onFailure: 'degrade',
        lockTimeoutMs: 300,
        retryBackoff: { initialMs: 200 },
        clock: { ...systemClock, now: () => now },
      });
      const release = await holdMigrationLock(engine, db, database);
      try {
        const conn = await service.ensureInitialized();
        expect(conn).toBe(db);
        expect(service.state()).toMatchObject({ phase: 'degraded', serving: true, healthy: false });
        expect(service.state().lastError?.code).toBe(MigErrorCode.LockTimeout);
        expect(await tableExists(db, 'todos')).toBe(false);
      } finally {
        await release();
      }
      now += 200; // the backoff has passed
      await service.ensureInitialized(); // answers at once, and starts the retry
      await until(() => service.state().phase === 'ready');
      expect(service.state()).toMatchObject({ phase: 'ready', healthy: true, migrations: 'applied' });
      expect(await tableExists(db, 'todos')).toBe(true);
    });

    it('never starts a migration with too little of the time budget left', async () => {
      const { service, db } = await open({ autoMigrate: true, minMigrationTimeMs: 5_000 });
      const error = await service.ensureInitialized({ timeBudgetMs: 1_000 }).catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe(MigErrorCode.Aborted);
      expect((error as Error).message).toMatch(
        /Not starting 2 pending migration\(s\) with \d+ ms of the time budget left/,
      );
      expect(await tableExists(db, 'mig_migrations')).toBe(false);
      expect(service.state().phase).toBe('idle');
      // The next invocation, with time to spare, migrates at once (no backoff for a budget refusal).
      await service.ensureInitialized({ timeBudgetMs: 60_000 });
      expect(service.state()).toMatchObject({ phase: 'ready', migrations: 'applied' });
    });

    it('re-checks the status in the background once the cache entry expires, still serving', async () => {
      const clock = { t: 0 };
      const cache = createStatusCache<MigrationStatus>({ ttlMs: 1_000, now: () => clock.t });
      const { service, queryTexts, resetQueries } = await open({ autoMigrate: true, cache });
      await service.ensureInitialized();
      const before = cache.stats();
      resetQueries();
      clock.t += 999;
      for (let i = 0; i < 20; i++) await service.ensureInitialized();
      expect(queryTexts()).toEqual([]); // still fresh: no status check
      clock.t += 1; // the TTL has passed: the entry expires by itself
      // Every call resolves at once from the ready path; one re-check runs behind them.
      for (let i = 0; i < 20; i++) await service.ensureInitialized();
      await until(() => cache.stats().loads > before.loads && cache.stats().size === 1);
      expect(queryTexts().filter((t) => t.includes('applied_count'))).toHaveLength(1);
      // One expiry: one miss and one expiration, whatever the number of calls meanwhile.
      expect(cache.stats()).toMatchObject({
        misses: before.misses + 1,
        expirations: before.expirations + 1,
        loads: before.loads + 1,
      });
      expect(service.state()).toMatchObject({ phase: 'ready', migrations: 'applied' });
    });

    it('without a cache, trusts a status for statusTtlMs, then re-checks it once in the background', async () => {
      let now = 0;
      const clock = { ...systemClock, now: () => now };
      const { service, queryTexts, resetQueries } = await open({
        autoMigrate: true,
        cache: null,
        statusTtlMs: 5_000,
        clock,
      });
      await service.ensureInitialized();
      resetQueries();
      now += 4_999;
      for (let i = 0; i < 50; i++) await service.ensureInitialized();
      expect(queryTexts()).toEqual([]);
      now += 1;
      for (let i = 0; i < 50; i++) await service.ensureInitialized();
      await until(() => queryTexts().some((t) => t.includes('applied_count')));
      await tick(50);
      expect(queryTexts().filter((t) => t.includes('applied_count'))).toHaveLength(1);
      // Fresh again for another TTL.
      resetQueries();
      for (let i = 0; i < 50; i++) await service.ensureInitialized();
      expect(queryTexts()).toEqual([]);
      expect(service.state()).toMatchObject({ phase: 'ready', lastCheck: { source: 'database' } });
    });

    it('warm: checks the status in the background and fills the cache, and never migrates by itself', async () => {
      const { service, cache, db } = await open({ autoMigrate: true, warm: true });
      await service.warm();
      expect(await tableExists(db, 'todos')).toBe(false);
      expect(await tableExists(db, 'mig_migrations')).toBe(false);
      expect(service.state()).toMatchObject({ phase: 'idle', pending: ['001_todos', '002_done'] });
      expect(cache.stats()).toMatchObject({ loads: 1, size: 1 });
      // The first call finds the status in the cache (a hit: no second load) and migrates, by policy.
      await service.ensureInitialized();
      expect(service.state()).toMatchObject({ phase: 'ready', migrations: 'applied' });
      expect(await tableExists(db, 'todos')).toBe(true);
      expect(cache.stats()).toMatchObject({ hits: 1, loads: 1 });
    });

    it('stays closed when close() is called while initialization runs', async () => {
      const { service } = await open({ autoMigrate: true });
      const first = service.ensureInitialized().catch((e: unknown) => e);
      await service.close();
      await first;
      expect(service.state()).toMatchObject({ phase: 'closed', serving: false });
      await expect(service.ensureInitialized()).rejects.toThrow(/closed/);
    });

    it("ends only the aborting caller's wait; the shared initialization goes on for the others", async () => {
      const { service, db } = await open({ autoMigrate: true });
      const controller = new AbortController();
      const impatient = service.ensureInitialized({ signal: controller.signal }).catch((e: unknown) => e);
      const patient = service.ensureInitialized();
      controller.abort(new Error('client went away'));
      expect(((await impatient) as Error).message).toContain('client went away');
      expect(await patient).toBe(db);
      expect(service.state()).toMatchObject({ phase: 'ready', migrations: 'applied' });
    });

    it('rejects calls after close()', async () => {
      const { service } = await open({ autoMigrate: true });
      await service.ensureInitialized();
      await service.close();
      expect(service.state().phase).toBe('closed');
      await expect(service.ensureInitialized()).rejects.toThrow(/closed/);
    });
  },
);
