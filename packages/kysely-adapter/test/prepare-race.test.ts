import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { runNode } from '../../../test/support/processes.js';
import { STORE_SCHEMA_VERSION } from '../src/index.js';

const script = fileURLToPath(new URL('./fixtures/prepare-store.mjs', import.meta.url));

describe('creating the store tables from several processes at once', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('prepare_race');
  });
  afterAll(() => database.drop());

  it('succeeds in every process', async () => {
    // Each process connects first, then all create the tables at the same instant.
    const startAt = String(Date.now() + 2_000);
    const runs = await Promise.all(Array.from({ length: 8 }, () => runNode(script, [database.url, startAt])));
    for (const run of runs) {
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('prepared');
      expect(run.code).toBe(0);
    }
    const { rows } = await sql<{ applied_count: number; schema_version: number }>`
      select applied_count, schema_version from mig_migrations_head`.execute(database.db);
    expect(rows).toEqual([{ applied_count: 0, schema_version: STORE_SCHEMA_VERSION }]);
  });
});
