import { createMigrator, type Logger, MigrationFailedError } from '@mig/core';
import { createConnection } from 'mysql2/promise';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordingLogger, until } from '../../../../../test/support/recording.js';
import { createFolderSource, createKyselyStore } from '../../../src/index.js';
import { type MigrationFolder, migrationFolder } from '../../support/migrations.js';
import { createTestMysqlDatabase } from '../../support/mysql.js';

describe("MariaDB: short lock attempts behind a long transaction's metadata lock", () => {
  let database: Awaited<ReturnType<typeof createTestMysqlDatabase>>;
  let folder: MigrationFolder;
  let report: Awaited<ReturnType<typeof createConnection>>;
  let reportId: number;

  beforeEach(async () => {
    database = await createTestMysqlDatabase('lock_attempts');
    folder = await migrationFolder({ '001_accounts.sql': 'create table accounts (id int primary key);\n' });
    const first = await createMigrator({
      source: createFolderSource(folder.dir),
      store: createKyselyStore({ db: database.db }),
    }).up();
    expect(first.error).toBeUndefined();
    report = await createConnection(database.url);
    reportId = Number(
      ((await report.query('select connection_id() as id')) as [Array<{ id: number }>, unknown])[0][0]?.id,
    );
    // A report's transaction that read the table holds its metadata lock until it ends.
    await report.query('start transaction');
    await report.query('select count(*) from accounts');
  });
  afterEach(async () => {
    await report.end().catch(() => {});
    await database.drop();
    await folder.dispose();
  });

  const migrate = (lockWaitTimeoutMs: number, logger: Logger) =>
    createMigrator({
      source: createFolderSource(folder.dir),
      store: createKyselyStore({ db: database.db, ddlLockTimeoutMs: 1_000, lockWaitTimeoutMs }),
      logger,
    }).up();

  it('retries the ALTER in one-second attempts, names the transaction that blocks it, and goes through when it ends', async () => {
    await folder.write('002_note.sql', 'alter table accounts add column note text;\n');
    const logger = recordingLogger();
    const running = migrate(60_000, logger);
    await until(() => logger.warnings.length >= 2, 'two attempts that ran out of their lock timeout');
    await report.query('commit');
    const result = await running;
    expect(result.error).toBeUndefined();
    expect(logger.warnings.some((w) => w.includes(`waiting for pid ${reportId} (`))).toBe(true);
    const [columns] = (await report.query(
      `select column_name as name from information_schema.columns where table_schema = database() and table_name = 'accounts' order by 1`,
    )) as [Array<{ name: string }>, unknown];
    expect(columns.map((c) => c.name)).toEqual(['id', 'note']);
  });

  it('fails plainly once the budget is spent, naming the blocker', async () => {
    await folder.write('002_note.sql', 'alter table accounts add column note text;\n');
    const logger = recordingLogger();
    const result = await migrate(3_000, logger);
    expect(result.error).toBeInstanceOf(MigrationFailedError);
    expect(result.error?.message).toContain('waited more than 3 s for a lock that another session holds');
    expect(result.error?.message).toMatch(/in \d+ attempts of at most 1 s each/);
    expect(result.error?.message).toContain(`waiting for pid ${reportId} (`);
    expect(logger.warnings.length).toBeGreaterThanOrEqual(2);
  });
});
