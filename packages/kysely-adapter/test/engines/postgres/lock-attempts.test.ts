import { createMigrator, type Logger, MigrationFailedError } from '@mig/core';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import { recordingLogger, until } from '../../../../../test/support/recording.js';
import { createFolderSource, createKyselyStore } from '../../../src/index.js';
import { type MigrationFolder, migrationFolder } from '../../support/migrations.js';
import { createTelemetryProbe, findSpan } from '../../support/otel.js';

describe('short lock attempts: a migration behind a long transaction', () => {
  let database: TestDatabase;
  let folder: MigrationFolder;
  let report: pg.Client;
  let reportPid: number;

  beforeEach(async () => {
    database = await createTestDatabase('lock_attempts');
    folder = await migrationFolder({ '001_accounts.sql': 'create table accounts (id int primary key);\n' });
    const first = await createMigrator({
      source: createFolderSource(folder.dir),
      store: createKyselyStore({ db: database.db }),
    }).up();
    expect(first.error).toBeUndefined();
    await database.query('insert into accounts select generate_series(1, 100)');
    report = new pg.Client({ connectionString: database.url, application_name: 'long-report' });
    await report.connect();
    reportPid = (await report.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid ?? 0;
    // A report's transaction holding the table: it read from it and sits idle.
    await report.query('begin');
    await report.query('select count(*) from accounts');
  });
  afterEach(async () => {
    await report.end().catch(() => {});
    await database.drop();
    await folder.dispose();
  });

  function migrate(options: { ddlLockTimeoutMs: number; lockWaitTimeoutMs: number; logger: Logger }, telemetry = {}) {
    return createMigrator({
      source: createFolderSource(folder.dir),
      store: createKyselyStore({ db: database.db, ...options, ...telemetry }),
      logger: options.logger,
      ...telemetry,
    }).up();
  }

  it('retries in short attempts, names the blocker, lets readers through, and goes through when the transaction ends', async () => {
    await folder.write('002_note.sql', 'alter table accounts add column note text;\n');
    const logger = recordingLogger();
    const probe = createTelemetryProbe();
    const telemetry = { tracerProvider: probe.tracerProvider, meterProvider: probe.meterProvider };
    const running = migrate({ ddlLockTimeoutMs: 200, lockWaitTimeoutMs: 60_000, logger }, telemetry);

    // An application reading the table all the while, each read timed.
    const reader = new pg.Client({ connectionString: database.url, application_name: 'reader' });
    await reader.connect();
    let worstMs = 0;
    let reading = true;
    const reads = (async () => {
      while (reading) {
        const started = performance.now();
        await reader.query('select count(*) from accounts');
        worstMs = Math.max(worstMs, performance.now() - started);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      // The report holds the table for 4 s: a migration waiting all that time would hold every read as long.
      const started = Date.now();
      await until(() => logger.warnings.length >= 3, 'three attempts that ran out of their lock timeout');
      await new Promise((r) => setTimeout(r, Math.max(0, 4_000 - (Date.now() - started))));
      await report.query('commit');
      const result = await running;
      expect(result.error).toBeUndefined();
      expect(result.results.map((r) => [r.name, r.status])).toEqual([['002_note', 'applied']]);
    } finally {
      reading = false;
      await reads;
      await reader.end();
    }

    const { rows } = await database.query(
      `select column_name from information_schema.columns where table_name = 'accounts' order by 1`,
    );
    expect(rows.map((r) => r.column_name)).toEqual(['id', 'note']);
    // Each wait named who blocked it, without its query's literals.
    // (The look-up runs from another session while an attempt waits; on a loaded machine one may come too late.)
    const named = logger.warnings.find((w) => w.includes(`waiting for pid ${reportPid}`));
    expect(named).toMatch(new RegExp(`waiting for pid ${reportPid} \\(long-report, idle in transaction`));
    expect(named).toContain('select count(*) from accounts');
    expect(logger.warnings[0]).toContain('attempt 2 in');
    // Readers were held up for about one attempt (200 ms) at a time, never for the whole 4 s (a loose bound).
    expect(worstMs).toBeLessThan(2_500);

    const span = findSpan(probe.spans(), 'mig.migration');
    const attempts = Number(span.attributes['mig.migration.attempts']);
    expect(attempts).toBeGreaterThanOrEqual(4);
    const events = span.events.filter((e) => e.name === 'mig.table_lock.wait');
    expect(events).toHaveLength(attempts - 1);
    expect(events.some((e) => String(e.attributes?.['mig.table_lock.blockers']).includes(`pid ${reportPid}`))).toBe(
      true,
    );
    const [timeouts] = await probe.metrics('mig.table_lock.timeouts');
    expect(timeouts?.value).toBe(attempts - 1);
  });

  it('fails plainly once the budget is spent, naming the blocker, and changes nothing', async () => {
    await folder.write('002_note.sql', 'alter table accounts add column note text;\n');
    const logger = recordingLogger();
    const result = await migrate({ ddlLockTimeoutMs: 200, lockWaitTimeoutMs: 1_500, logger });
    expect(result.error).toBeInstanceOf(MigrationFailedError);
    const message = result.error?.message ?? '';
    expect(message).toContain('canceling statement due to lock timeout');
    expect(message).toContain('waited more than 1500 ms for a lock that another session holds');
    expect(message).toMatch(/in \d+ attempts of at most 200 ms each/);
    expect(message).toContain(`waiting for pid ${reportPid} (long-report, idle in transaction`);
    expect(logger.warnings.length).toBeGreaterThanOrEqual(2);
    expect(logger.warnings.at(-1)).toContain('no budget left');
    const { rows } = await database.query(
      `select column_name from information_schema.columns where table_name = 'accounts' order by 1`,
    );
    expect(rows.map((r) => r.column_name)).toEqual(['id']);
    const records = await database.query('select name from mig_migrations order by id');
    expect(records.rows.map((r) => r.name)).toEqual(['001_accounts']);
  });

  it('a code migration is retried as a whole transaction', async () => {
    await folder.write(
      '002_note.mjs',
      `import { sql } from 'kysely';
export async function up(db) {
  await sql\`insert into accounts values (1000)\`.execute(db);
  await sql\`alter table accounts add column note text\`.execute(db);
}
`,
    );
    const logger = recordingLogger();
    const running = migrate({ ddlLockTimeoutMs: 150, lockWaitTimeoutMs: 60_000, logger });
    await until(() => logger.warnings.length >= 2, 'two attempts that ran out of their lock timeout');
    await report.query('commit');
    expect((await running).error).toBeUndefined();
    // The insert of the rolled-back attempts is not there: each attempt ran whole, or not at all.
    const { rows } = await database.query('select count(*)::int as n from accounts where id = 1000');
    expect(rows[0]?.n).toBe(1);
  });

  it('a no-transaction migration retries the statement that ran out of its lock timeout, then builds the index concurrently', async () => {
    await folder.write(
      '002_indexed.sql',
      '-- mig:no-transaction\nalter table accounts add column note text;\ncreate index concurrently accounts_note on accounts (note);\n',
    );
    const logger = recordingLogger();
    const running = migrate({ ddlLockTimeoutMs: 150, lockWaitTimeoutMs: 60_000, logger });
    await until(() => logger.warnings.length >= 2, 'two attempts of the ALTER that ran out of their lock timeout');
    await report.query('commit');
    expect((await running).error).toBeUndefined();
    const { rows } = await database.query(
      `select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 'accounts_note'`,
    );
    expect(rows).toEqual([{ valid: true }]);
  });
});
