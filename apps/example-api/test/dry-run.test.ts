import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMigrator } from '@mig/core';
import { createFolderSource, createKyselyStore } from '@mig/kysely-adapter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalogSnapshot } from '../../../test/support/catalog.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createDatabase } from '../src/lib/database.js';
import { createLogger } from '../src/lib/logger.js';
import { APP_DIR } from '../src/lib/paths.js';

describe('a dry run (MIGRATION_DRY_RUN=true) against PostgreSQL', () => {
  let database: TestDatabase;
  let folder: string;
  beforeEach(async () => {
    database = await createTestDatabase('dry_run');
    folder = await mkdtemp(join(tmpdir(), 'mig-dry-'));
    await cp(join(APP_DIR, 'migrations'), folder, { recursive: true });
  });
  afterEach(async () => {
    await database.drop();
    await rm(folder, { recursive: true, force: true });
  });

  async function dryRunService() {
    const lines: string[] = [];
    const app = createDatabase({
      env: { DATABASE_URL: database.url, MIGRATION_DRY_RUN: 'true', NODE_ENV: 'development' },
      overrides: { migrationsDir: folder },
      logger: createLogger({ level: 'info', write: (l) => lines.push(l) }),
    });
    expect((await app.configuration()).values).toMatchObject({ dryRun: true, autoMigrate: true });
    await app.ensureInitialized();
    const state = app.state();
    await app.close();
    return { state, lines };
  }

  it("leaves the catalog byte-for-byte the same when mig's own tables do not exist yet", async () => {
    const before = await catalogSnapshot((q) => database.query(q));
    const { state, lines } = await dryRunService();
    expect(await catalogSnapshot((q) => database.query(q))).toBe(before);
    expect(before).not.toContain('mig_migrations');
    expect(state).toMatchObject({
      migrations: 'dry-run',
      pending: expect.arrayContaining(['20260101000000_create_todos']),
    });
    expect(state.planned.map((p) => p.name)).toHaveLength(3);
    // The plan, with the SQL of each migration, is logged.
    const plan = lines.map((l) => JSON.parse(l)).find((l) => l.dryRun === true);
    expect(plan.msg).toBe('dry run: would apply 3 migration(s); nothing was written');
    expect(JSON.stringify(plan.migrations)).toContain('create table todos');
  });

  it('leaves the catalog and mig’s records the same when some migrations are already applied', async () => {
    // Apply the first migration for real, then dry-run the rest.
    const db = database.db;
    const first = await createMigrator({ source: createFolderSource(folder), store: createKyselyStore({ db }) }).up({
      to: '20260101000000_create_todos',
    });
    expect(first.error).toBeUndefined();
    await writeFile(join(folder, '20260104000000_tags.sql'), 'create table tags (id int primary key);\n');
    const before = await catalogSnapshot((q) => database.query(q));
    expect(before).toContain('mig_migrations');
    const { state } = await dryRunService();
    expect(await catalogSnapshot((q) => database.query(q))).toBe(before);
    expect(state.planned.map((p) => p.name)).toEqual([
      '20260102000000_add_todo_done',
      '20260103000000_index_open_todos',
      '20260104000000_tags',
    ]);
  });
});
