import { LockLostError } from '@mig/core';
import { EMPTY_HEAD } from '@mig/core/adapter';
import { Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgBouncer, startPgBouncer } from '../../../../../test/support/pgbouncer.js';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import { createPgDialect } from '../../../src/engines/postgres/index.js';
import { createFolderSource, createKyselyAdapter } from '../../../src/index.js';
import { engine, processTraits } from '../../support/engines.js';
import { outcome, race } from '../../support/instances.js';
import { auditedMigrations, type MigrationFolder } from '../../support/migrations.js';

describe('behind PgBouncer in transaction pooling mode', () => {
  let bouncer: PgBouncer;
  let database: TestDatabase;
  let folder: MigrationFolder;

  beforeAll(async () => {
    bouncer = await startPgBouncer({ poolMode: 'transaction', poolSize: 3 });
    database = await createTestDatabase('pgbouncer');
    folder = await auditedMigrations(processTraits(engine('postgres')).currentApp, 10);
  });
  afterAll(async () => {
    await bouncer?.stop();
    await database?.drop();
    await folder?.dispose();
  });

  it('the lease strategy applies each migration exactly once across 20 processes', { timeout: 180_000 }, async () => {
    const runs = await race(20, (i) => ({
      url: bouncer.url(database.name),
      dir: folder.dir,
      strategy: 'lease',
      name: `pooled-${i}`,
      leaseTtlMs: 5_000,
    }));
    for (const run of runs) {
      expect(outcome(run).error, run.stderr).toBeNull();
      expect(run.code).toBe(0);
    }
    const { rows } = await database.query<{ migration: string; n: number }>(
      'select migration, count(*)::int as n from audit group by migration',
    );
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(runs.map(outcome).flatMap((o) => o.applied)).toHaveLength(11);
  });

  it('the advisory strategy is caught when its session lock is not on the session running the migration', async () => {
    const other = await createTestDatabase('pgbouncer_advisory');
    const db = new Kysely<any>({ dialect: createPgDialect({ url: bouncer.url(other.name), max: 2 }) });
    const pinned = new pg.Client({ connectionString: bouncer.url(other.name) });
    try {
      const adapter = createKyselyAdapter({ db });
      await adapter.store.prepare();
      const lease = await adapter.createLock({ strategy: 'advisory' }).acquire({ timeoutMs: 5_000 });
      // PgBouncer hands server connections out last-in first-out: this transaction takes the server
      // connection that just ran pg_try_advisory_lock, so the migration's transaction runs on another one.
      await pinned.connect();
      await pinned.query('begin');
      await pinned.query('select 1');
      const [first] = await createFolderSource(folder.dir).load();
      const error = await adapter.store
        .bind(lease.fence)
        .apply(first!, { fence: lease.fence, expectedHead: EMPTY_HEAD })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockLostError);
      expect((error as Error).message).toContain('transaction pooler');
      expect((error as Error).message).toContain('use the lease strategy');
      expect(error).toMatchObject({ context: { reason: 'session-not-holder' } });
      // The migration rolled back with its transaction: nothing applied, nothing recorded.
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from mig_migrations`.execute(db);
      expect(rows[0]?.n).toBe(0);
      const audit = await other.query(`select to_regclass('public.audit') as t`);
      expect(audit.rows[0].t).toBeNull();
      await pinned.query('commit');
      await lease.release().catch(() => {});
    } finally {
      await pinned.end().catch(() => {});
      await db.destroy();
      await other.drop();
    }
  });
});
