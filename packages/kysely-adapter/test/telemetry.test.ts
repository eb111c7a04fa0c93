import { fileURLToPath } from 'node:url';
import { createStatusCache } from '@mig/cache';
import { createDatabaseService, createMigrator, type MigrationStatus } from '@mig/core';
import { SpanStatusCode } from '@opentelemetry/api';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { startNode } from '../../../test/support/processes.js';
import { createFolderSource, createKyselyAdapter, describeConnection } from '../src/index.js';
import { type MigrationFolder, migrationFolder } from './support/migrations.js';
import { createTelemetryProbe, findSpan, type TelemetryProbe } from './support/otel.js';

const HOLD_LOCK = fileURLToPath(new URL('../../../test/fixtures/hold-lock.mjs', import.meta.url));

const THREE = {
  '001_todos.sql': 'create table todos (id serial primary key, title text not null);\n',
  '002_done.sql': 'alter table todos add column done boolean not null default false;\n',
  '003_index.sql': 'create index todos_done_idx on todos (done);\n',
};

describe('OpenTelemetry spans and metrics', () => {
  let database: TestDatabase;
  let folder: MigrationFolder;
  let probe: TelemetryProbe;
  const dbs: Kysely<any>[] = [];

  beforeEach(async () => {
    database = await createTestDatabase('otel');
    folder = await migrationFolder(THREE);
    probe = createTelemetryProbe();
  });
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((db) => db.destroy()));
    await database.drop();
    await folder.dispose();
  });

  function service(
    options: {
      autoMigrate?: boolean;
      dryRun?: boolean;
      cache?: ReturnType<typeof createStatusCache<MigrationStatus>>;
      /** Sees the pool before its first connection. */
      watch?: (pool: pg.Pool) => void;
    } = {},
  ) {
    const pool = database.pool(3);
    options.watch?.(pool);
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    dbs.push(db);
    const telemetry = { tracerProvider: probe.tracerProvider, meterProvider: probe.meterProvider };
    const adapter = createKyselyAdapter({ db, target: describeConnection(database.url), ...telemetry });
    return createDatabaseService({
      connect: async () => {
        await sql`select 1`.execute(db);
        return db;
      },
      migrator: () =>
        createMigrator({
          source: createFolderSource(folder.dir),
          store: adapter.store,
          lock: adapter.createLock(),
          ...telemetry,
        }),
      cache: options.cache ?? createStatusCache<MigrationStatus>({ meterProvider: probe.meterProvider }),
      autoMigrate: options.autoMigrate ?? true,
      dryRun: options.dryRun,
      ...telemetry,
    });
  }

  it('applies three migrations: one span per phase and per migration, each migration recorded in its own span', async () => {
    await service().ensureInitialized();
    expect(probe.tree()).toBe(
      [
        'mig.initialize',
        '  mig.connect',
        '  mig.status.check',
        '  mig.plan',
        '  mig.lock.acquire',
        '  mig.migration',
        '    mig.record',
        '  mig.migration',
        '    mig.record',
        '  mig.migration',
        '    mig.record',
        '  mig.lock.release',
      ].join('\n'),
    );
    const spans = probe.spans();
    const migrations = spans.filter((s) => s.name === 'mig.migration');
    expect(migrations.map((s) => s.attributes)).toEqual(
      ['001_todos', '002_done', '003_index'].map((name) =>
        expect.objectContaining({
          'mig.migration.name': name,
          'mig.migration.direction': 'up',
          'mig.migration.transactional': true,
          'mig.migration.checksum': expect.stringMatching(/^[0-9a-f]{64}$/),
          'db.system.name': 'postgresql',
          'db.namespace': database.name,
          'server.address': '127.0.0.1',
        }),
      ),
    );
    for (const span of spans) expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(findSpan(spans, 'mig.initialize').attributes).toMatchObject({
      'mig.auto_migrate': true,
      'mig.outcome': 'applied',
      'db.namespace': database.name,
    });
    expect(findSpan(spans, 'mig.status.check').attributes).toMatchObject({
      'mig.status.cached': false,
      'mig.status.state': 'pending',
      'mig.status.pending_count': 3,
    });
    expect(findSpan(spans, 'mig.lock.acquire').attributes).toMatchObject({
      'mig.lock.strategy': 'advisory',
      'mig.lock.attempts': 1,
    });
    // No SQL and no bound values in any attribute.
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toMatch(/create table|alter table/i);

    expect(await probe.metrics('mig.migrations.applied')).toEqual([
      { attributes: { 'mig.migration.direction': 'up' }, value: 3 },
    ]);
    const durations = await probe.metrics('mig.migration.duration');
    expect(durations).toHaveLength(1);
    expect(durations[0]?.attributes).toEqual({
      'mig.migration.direction': 'up',
      'mig.migration.transactional': true,
      'mig.outcome': 'success',
    });
    expect(durations[0]?.value).toMatchObject({ count: 3 });
    expect(await probe.metrics('mig.lock.wait.duration')).toEqual([
      expect.objectContaining({
        attributes: { 'mig.lock.strategy': 'advisory', 'mig.outcome': 'acquired' },
        value: expect.objectContaining({ count: 1 }),
      }),
    ]);
  });

  it('checks an up-to-date database once from the database, then from the cache', async () => {
    await service().ensureInitialized();
    probe.reset();
    const cache = createStatusCache<MigrationStatus>({ meterProvider: probe.meterProvider });
    await service({ cache }).ensureInitialized();
    expect(probe.tree()).toBe(['mig.initialize', '  mig.connect', '  mig.status.check'].join('\n'));
    expect(findSpan(probe.spans(), 'mig.status.check').attributes).toMatchObject({
      'mig.status.cached': false,
      'mig.status.state': 'up-to-date',
      'mig.status.via': 'head',
    });
    expect(findSpan(probe.spans(), 'mig.initialize').attributes['mig.outcome']).toBe('up-to-date');

    probe.reset();
    await service({ cache }).ensureInitialized(); // a second service in this process: same database, same migrations
    expect(probe.tree()).toBe(['mig.initialize', '  mig.connect', '  mig.status.check'].join('\n'));
    expect(findSpan(probe.spans(), 'mig.status.check').attributes).toMatchObject({
      'mig.status.cached': true,
      'mig.status.state': 'up-to-date',
    });

    const checks = await probe.metrics('mig.status.check.duration');
    const byCached = Object.fromEntries(
      checks.map((p) => [String(p.attributes['mig.status.cached']), (p.value as { count: number }).count]),
    );
    expect(byCached).toEqual({ false: 2, true: 1 }); // the first service's check, the second's, the third's hit
    const lookups = await probe.metrics('mig.cache.lookups');
    const hits = lookups
      .filter((p) => p.attributes['mig.cache.result'] === 'hit')
      .reduce((n, p) => n + (p.value as number), 0);
    expect(hits).toBe(1);
  });

  it('marks a failing migration and the initialization as errors, with error.type', async () => {
    await folder.write('003_index.sql', 'create index broken_idx on no_such_table (x);\n');
    const error = await service()
      .ensureInitialized()
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('MIGRATION_FAILED');
    expect(probe.tree()).toBe(
      [
        'mig.initialize !ERROR(MIGRATION_FAILED)',
        '  mig.connect',
        '  mig.status.check',
        '  mig.plan',
        '  mig.lock.acquire',
        '  mig.migration',
        '    mig.record',
        '  mig.migration',
        '    mig.record',
        '  mig.migration !ERROR(MIGRATION_FAILED)',
        '  mig.lock.release',
      ].join('\n'),
    );
    const failed = probe.spans().filter((s) => s.name === 'mig.migration')[2];
    expect(failed?.attributes['mig.migration.name']).toBe('003_index');
    expect(failed?.status.message).toContain('relation "no_such_table" does not exist');

    const durations = await probe.metrics('mig.migration.duration');
    const byOutcome = Object.fromEntries(
      durations.map((p) => [p.attributes['mig.outcome'], (p.value as { count: number }).count]),
    );
    expect(byOutcome).toEqual({ success: 2, failure: 1 });
    expect(await probe.metrics('mig.migrations.applied')).toEqual([
      { attributes: { 'mig.migration.direction': 'up' }, value: 2 },
    ]);
  });

  it('shows a lock wait behind another process as retry events, not an error', async () => {
    // The holder keeps the lock until the test ends it, however long the service takes to get to the lock.
    const holder = startNode(HOLD_LOCK, [database.url, '600000']);
    await holder.waitFor(/held/);
    let refusals = 0;
    const waiting = service({
      watch: (pool) =>
        pool.on('connect', (client) => {
          const query = client.query.bind(client) as (...args: unknown[]) => unknown;
          (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
            const answer = query(...args);
            if (String(args[0]).includes('pg_try_advisory_lock') && answer instanceof Promise) {
              answer.then(
                (r: { rows: Array<{ acquired?: boolean }> }) => {
                  if (r.rows[0]?.acquired === false) refusals++;
                },
                () => {},
              );
            }
            return answer;
          };
        }),
    }).ensureInitialized();
    waiting.catch(() => {}); // awaited below; a failure before that must not go unhandled
    try {
      // The service has been refused the lock at least once; the holder lets go 300 ms after that.
      for (let i = 0; i < 3_000 && refusals === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(refusals).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      holder.child.kill('SIGTERM'); // its session ends with it, and the lock with the session
    }
    expect((await holder.done).signal).toBe('SIGTERM');
    await waiting;
    const acquire = findSpan(probe.spans(), 'mig.lock.acquire');
    expect(acquire.status.code).toBe(SpanStatusCode.UNSET);
    const busy = acquire.events.filter((e) => e.name === 'mig.lock.busy');
    expect(busy.length).toBeGreaterThan(0);
    expect(String(busy[0]?.attributes?.['mig.lock.holder'])).toContain('application "lock-holder"');
    expect(String(acquire.attributes['mig.lock.holder'])).toMatch(/backend pid \d+/);
    expect(acquire.attributes['mig.lock.attempts']).toBe(busy.length + 1);
    expect(acquire.attributes['mig.lock.wait_ms']).toBeGreaterThan(200);

    const waits = await probe.metrics('mig.lock.wait.duration');
    expect(waits).toHaveLength(1);
    expect((waits[0]!.value as { sum: number }).sum).toBeGreaterThan(0.2);
  });

  it('traces a dry run as a plan, with no lock, no migration and nothing recorded', async () => {
    await service({ dryRun: true }).ensureInitialized();
    expect(probe.tree()).toBe(['mig.initialize', '  mig.connect', '  mig.status.check', '  mig.plan'].join('\n'));
    expect(findSpan(probe.spans(), 'mig.plan').attributes).toMatchObject({
      'mig.dry_run': true,
      'mig.status.pending_count': 3,
    });
    expect(findSpan(probe.spans(), 'mig.initialize').attributes).toMatchObject({
      'mig.dry_run': true,
      'mig.outcome': 'dry-run',
    });
    expect(await probe.metrics('mig.migrations.applied')).toEqual([]);
    expect(await probe.metrics('mig.lock.wait.duration')).toEqual([]);
    const { rows } = await database.query(`select to_regclass('public.mig_migrations')::text as t`);
    expect(rows[0].t).toBeNull();
  });
});
