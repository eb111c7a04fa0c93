import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MigErrorCode } from '@mig/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { recordingLogger } from '../../../test/support/recording.js';
import { createDatabase, type MigDatabase } from '../src/index.js';

// The production guard: a service migrating itself in production refuses a migration that lint finds would
// lock or rewrite a table, unless the file accepts the finding; elsewhere, or with lint: 'warn', it warns.

const CREATE = 'create table accounts (id int primary key, email text);\n';
const INDEX = 'create index accounts_email on accounts (email);\n';

describe('the production guard', () => {
  let database: TestDatabase;
  let dir: string;
  let opened: MigDatabase<any>[] = [];

  const open = (env: Record<string, string>, overrides = {}) => {
    const logger = recordingLogger();
    const db = createDatabase<any>({
      cwd: dir,
      env: { DATABASE_URL: database.url, MIGRATIONS_DIR: dir, ...env },
      logger,
      overrides,
      handleSignals: false,
    });
    opened.push(db);
    return { db, logger };
  };
  const applied = async () =>
    (await database.query('select name from mig_migrations order by id').catch(() => ({ rows: [] }))).rows.map(
      (r: { name: string }) => r.name,
    );

  beforeAll(async () => {
    database = await createTestDatabase('lint_guard');
  });
  afterAll(async () => {
    await database.drop();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mig-lint-guard-'));
    await writeFile(join(dir, '001_accounts.sql'), CREATE);
    await database.query('drop schema public cascade; create schema public');
    // The table exists and serves traffic before the migration that indexes it.
    const { db } = open({ NODE_ENV: 'production', AUTO_MIGRATE: 'true' });
    await db.ensureInitialized();
    await writeFile(join(dir, '002_index.sql'), INDEX);
  });
  afterEach(async () => {
    await Promise.all(opened.map((d) => d.close()));
    opened = [];
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses, in production, a migration with a finding nobody accepted, naming the rule and the fix', async () => {
    const { db } = open({ NODE_ENV: 'production', AUTO_MIGRATE: 'true' });
    const error = await db.ensureInitialized().then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe(MigErrorCode.LintRefused);
    expect(error?.message).toContain('Migration "002_index" was refused');
    expect(error?.message).toContain('index-not-concurrent (line 1: create index accounts_email on accounts (email))');
    expect(error?.message).toContain('Fix: use CREATE INDEX CONCURRENTLY');
    expect(await applied()).toEqual(['001_accounts']);
  });

  it('applies it once the file accepts the finding', async () => {
    await writeFile(join(dir, '002_index.sql'), `-- mig:allow index-not-concurrent: a few hundred rows\n${INDEX}`);
    const { db, logger } = open({ NODE_ENV: 'production', AUTO_MIGRATE: 'true' });
    await db.ensureInitialized();
    expect(await applied()).toEqual(['001_accounts', '002_index']);
    expect(logger.warnings.filter((w) => w.startsWith('lint:'))).toEqual([]);
  });

  it("with lint: 'warn', applies it and warns", async () => {
    const { db, logger } = open({ NODE_ENV: 'production', AUTO_MIGRATE: 'true' }, { lint: 'warn' });
    await db.ensureInitialized();
    expect(await applied()).toEqual(['001_accounts', '002_index']);
    expect(logger.warnings.find((w) => w.startsWith('lint:'))).toContain('002_index:1 index-not-concurrent');
  });

  it('outside production, lints nothing', async () => {
    const { db, logger } = open({ NODE_ENV: 'development' });
    await db.ensureInitialized();
    expect(await applied()).toEqual(['001_accounts', '002_index']);
    expect(logger.warnings.filter((w) => w.startsWith('lint:'))).toEqual([]);
  });
});
