import { fileURLToPath } from 'node:url';
import { ConnectionError, createDatabaseService, createMigrator, MigErrorCode } from '@mig/core';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { runNode } from '../../../test/support/processes.js';
import { createPgDialect } from '../src/engines/postgres/index.js';
import { createFolderSource, createKyselyAdapter } from '../src/index.js';
import { type MigrationFolder, migrationFolder } from './support/migrations.js';

const CLOSE_SCRIPT = fileURLToPath(new URL('./fixtures/service-close.mjs', import.meta.url));
const INSTANCE_SCRIPT = fileURLToPath(new URL('./fixtures/service-instance.mjs', import.meta.url));

describe('database service lifecycle on PostgreSQL', () => {
  let database: TestDatabase;
  let folder: MigrationFolder;
  beforeAll(async () => {
    database = await createTestDatabase('lifecycle');
    folder = await migrationFolder({ '001_todos.sql': 'create table todos (id serial primary key);\n' });
  });
  afterAll(async () => {
    await database.drop();
    await folder.dispose();
  });

  it('two instances in two processes: one migrates, and the other, which waited, serves with its cache up to date', async () => {
    const fresh = await createTestDatabase('lifecycle_pair');
    try {
      const startAt = String(Date.now() + 1_500);
      const runs = await Promise.all(
        ['first', 'second'].map((name) =>
          runNode(INSTANCE_SCRIPT, [fresh.url, folder.dir, startAt, name], { timeoutMs: 60_000 }),
        ),
      );
      const outcomes = runs.map((run) => {
        expect(run.code, run.stderr).toBe(0);
        return JSON.parse(run.stdout.trim()) as {
          state: { phase: string; appliedHere: string[]; lastCheck: { source: string } };
          cache: { size: number; loads: number };
          cached: string | null;
        };
      });
      expect(outcomes.flatMap((o) => o.state.appliedHere)).toEqual(['001_todos']);
      for (const o of outcomes) {
        expect(o.state.phase).toBe('ready');
        // Whichever waited saw "pending" before the lock; on completion its cache holds the new status.
        expect(o.cached).toBe('up-to-date');
        expect(o.cache.size).toBe(1);
      }
      const { rows } = await fresh.query('select name from mig_migrations');
      expect(rows).toEqual([{ name: '001_todos' }]);
    } finally {
      await fresh.drop();
    }
  });

  it.each(['advisory', 'lease'])(
    'close() leaves no connection open and no timer keeping the process alive (%s lock)',
    async (strategy) => {
      const run = await runNode(CLOSE_SCRIPT, [database.url, folder.dir, strategy], { timeoutMs: 15_000 });
      expect(run.stderr).toBe('');
      expect(run.signal).toBeNull(); // not killed by the timeout: it exited by itself
      expect(run.code).toBe(0);
      const [stateLine, closed] = run.stdout.trim().split('\n');
      expect(JSON.parse(stateLine ?? '{}')).toMatchObject({ phase: 'ready' });
      expect(closed).toBe('closed');
      const { rows } = await database.query(
        `select count(*)::int as n from pg_stat_activity where application_name = 'close-check'`,
      );
      expect(rows[0].n).toBe(0);
    },
  );

  it('closes its connection in-process too: pg_stat_activity shows none of its sessions', async () => {
    const db = new Kysely<any>({
      dialect: createPgDialect({ url: database.url, applicationName: 'in-process-close' }),
    });
    const adapter = createKyselyAdapter({ db });
    const service = createDatabaseService({
      connect: async () => {
        await sql`select 1`.execute(db);
        return db;
      },
      disconnect: (conn) => conn.destroy(),
      migrator: () =>
        createMigrator({ source: createFolderSource(folder.dir), store: adapter.store, lock: adapter.createLock() }),
      autoMigrate: true,
    });
    await service.ensureInitialized();
    const count = async () =>
      (
        await database.query(
          `select count(*)::int as n from pg_stat_activity where application_name = 'in-process-close'`,
        )
      ).rows[0].n as number;
    expect(await count()).toBeGreaterThan(0);
    await service.close();
    // A backend leaves pg_stat_activity a moment after its client has said goodbye: allow it that moment.
    for (let i = 0; i < 50 && (await count()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await count()).toBe(0);
  });

  it('gives up connecting after its attempts, naming where it tried and never the password', async () => {
    const url = 'postgres://app:s3cret-pass@127.0.0.1:1/shop';
    let attempts = 0;
    const service = createDatabaseService({
      connect: async () => {
        attempts++;
        const db = new Kysely<any>({ dialect: createPgDialect({ url, connectTimeoutMs: 500 }) });
        try {
          await sql`select 1`.execute(db);
          return db;
        } catch (error) {
          await db.destroy();
          throw error;
        }
      },
      migrator: () => {
        throw new Error('unreachable');
      },
      connectAttempts: 2,
      connectTimeoutMs: 2_000,
      target: url,
    });
    const error = await service.ensureInitialized().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe(MigErrorCode.ConnectFailed);
    expect((error as Error).message).toMatch(
      /Could not connect to postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/shop after 2 attempt\(s\)/,
    );
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect(JSON.stringify(service.state())).not.toContain('s3cret');
    expect((error as Error).message).not.toContain('s3cret');
    expect(attempts).toBe(2);
    expect(service.state()).toMatchObject({ phase: 'failed', serving: false });
    await service.close();
  });

  it('bounds a connect that never answers by the connect timeout', async () => {
    const service = createDatabaseService({
      connect: () => new Promise<never>(() => {}),
      migrator: () => {
        throw new Error('unreachable');
      },
      connectAttempts: 1,
      connectTimeoutMs: 200,
      target: 'postgresql nowhere:5432/db',
    });
    const error = await service.ensureInitialized().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toContain('no connection within the connect timeout of 200 ms');
    await service.close();
  });
});
