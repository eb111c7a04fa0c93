import { createMigrator, MigrationFailedError, MigrationSourceError } from '@mig/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import { createFolderSource, createKyselyStore } from '../../../src/index.js';
import { parseSqlMigration, statementTimeoutMs } from '../../../src/sources/sql-file.js';
import { type MigrationFolder, migrationFolder } from '../../support/migrations.js';

describe('a statement timeout per migration', () => {
  it('reads -- mig:statement-timeout from the up part', () => {
    expect(parseSqlMigration('-- mig:statement-timeout 5min\nselect 1;\n').statementTimeout).toBe('5min');
    expect(parseSqlMigration('select 1;\n-- mig:down\n-- mig:statement-timeout 1s\n').statementTimeout).toBeUndefined();
    expect([
      statementTimeoutMs('5min'),
      statementTimeoutMs('30s'),
      statementTimeoutMs('1500'),
      statementTimeoutMs('1h'),
    ]).toEqual([300_000, 30_000, 1_500, 3_600_000]);
    expect(statementTimeoutMs('soon')).toBeUndefined();
  });

  let database: TestDatabase;
  let folder: MigrationFolder;
  beforeEach(async () => {
    database = await createTestDatabase('statement_timeout');
    folder = await migrationFolder({});
  });
  afterEach(async () => {
    await database.drop();
    await folder.dispose();
  });

  const migrate = (statementTimeoutMs?: number) =>
    createMigrator({
      source: createFolderSource(folder.dir),
      store: createKyselyStore({ db: database.db, statementTimeoutMs }),
    }).up();

  it('stops a statement that runs longer than the file allows, in or out of a transaction, and the store default too', async () => {
    await folder.write(
      '001_slow.sql',
      '-- mig:statement-timeout 200ms\ncreate table a (id int);\nselect pg_sleep(2);\n',
    );
    const slow = await migrate();
    expect(slow.error).toBeInstanceOf(MigrationFailedError);
    expect(slow.error?.message).toContain('canceling statement due to statement timeout');

    await folder.write('001_slow.sql', '-- mig:no-transaction\n-- mig:statement-timeout 200ms\nselect pg_sleep(2);\n');
    expect((await migrate()).error?.message).toContain('canceling statement due to statement timeout');

    await folder.write('001_slow.sql', 'select pg_sleep(2);\n');
    expect((await migrate(200)).error?.message).toContain('canceling statement due to statement timeout');
    // The file's own value wins over the store's.
    await folder.write('001_slow.sql', '-- mig:statement-timeout 10s\nselect pg_sleep(0.5);\n');
    expect((await migrate(200)).error).toBeUndefined();
  });

  it('rejects a value that is not a duration, naming the file', async () => {
    await folder.write('001_bad.sql', '-- mig:statement-timeout soon\nselect 1;\n');
    const result = await migrate();
    expect(result.error).toBeInstanceOf(MigrationSourceError);
    expect(result.error?.message).toContain('"-- mig:statement-timeout soon" is not a duration');
  });
});
