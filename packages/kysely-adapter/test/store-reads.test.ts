import { createMigrator } from '@mig/core';
import { computeChecksum, EMPTY_DIGEST, nextDigest } from '@mig/core/adapter';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countQueries, createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createKyselyStore, createListSource, type InlineMigration } from '../src/index.js';

const COUNT = 10_000;

function migrations(edited?: number): InlineMigration[] {
  return Array.from({ length: COUNT }, (_, i) => ({
    name: `${String(i + 1).padStart(6, '0')}_step`,
    sql: i === edited ? `select ${i} + 1;` : `select ${i};`,
  }));
}

describe(`the status check with ${COUNT.toLocaleString('en')} applied migrations`, () => {
  let database: TestDatabase;
  let db: Kysely<any>;
  let counter: ReturnType<typeof countQueries>;

  beforeAll(async () => {
    database = await createTestDatabase('scale');
    const pool = database.pool(2);
    counter = countQueries(pool);
    db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
    await createKyselyStore({ db }).prepare();
    // Seed the records directly, with the chained digests a real run would have written.
    let digest = EMPTY_DIGEST;
    const rows = migrations().map((m) => {
      const checksum = computeChecksum((m as { sql: string }).sql);
      digest = nextDigest(digest, m.name, checksum);
      return { name: m.name, checksum, digest, transactional: true, duration_ms: 1 };
    });
    for (let i = 0; i < rows.length; i += 1_000) {
      await db
        .insertInto('mig_migrations')
        .values(rows.slice(i, i + 1_000))
        .execute();
    }
    await sql`update mig_migrations_head set applied_count = ${COUNT}, digest = ${digest}`.execute(db);
  }, 120_000);
  afterAll(async () => {
    await db.destroy();
    await database.drop();
  });

  const migrator = (edited?: number) =>
    createMigrator({ source: createListSource(migrations(edited)), store: createKyselyStore({ db }) });

  it('is one statement, and agrees with the full comparison', async () => {
    const m = migrator();
    await m.local();
    counter.reset();
    const status = await m.status();
    expect(counter.count).toBe(1);
    expect(counter.texts[0]).toMatch(/select applied_count, digest from "public"\."mig_migrations_head"/);
    expect(status).toMatchObject({ state: 'up-to-date', appliedCount: COUNT, pending: [], problems: [], via: 'head' });

    const full = await m.inspect();
    expect(full.applied).toHaveLength(COUNT);
    expect(full.status).toMatchObject({
      state: status.state,
      appliedCount: status.appliedCount,
      pending: status.pending,
      problems: [],
    });
  });

  it('finds a local edit of an old migration through the digest, then names it from the records', async () => {
    const status = await migrator(17).status();
    expect(status.via).toBe('records');
    expect(status.state).toBe('drifted');
    expect(status.problems).toEqual([expect.objectContaining({ kind: 'changed', name: '000018_step' })]);
  });

  it('detects a drift in one old record when the full comparison runs', async () => {
    await sql`update mig_migrations set checksum = ${'f'.repeat(64)} where name = '000042_step'`.execute(db);
    try {
      const m = migrator();
      // The head still matches the files, so the one-statement check trusts it…
      expect((await m.status()).state).toBe('up-to-date');
      // …and the full comparison (mig verify, mig status) finds the edited record.
      const full = await m.inspect();
      expect(full.status.state).toBe('drifted');
      expect(full.status.problems).toEqual([
        {
          kind: 'changed',
          name: '000042_step',
          appliedChecksum: 'f'.repeat(64),
          localChecksum: computeChecksum('select 41;'),
        },
      ]);
    } finally {
      await sql`update mig_migrations set checksum = ${computeChecksum('select 41;')} where name = '000042_step'`.execute(
        db,
      );
    }
  });
});
