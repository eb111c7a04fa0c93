import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteDialect } from '../../../src/engines/sqlite/index.js';
import { createKyselyStore } from '../../../src/index.js';
import { createTestSqlite, type TestSqlite } from '../../support/sqlite.js';

describe('the SQLite dialect', () => {
  let file: TestSqlite;
  beforeEach(async () => {
    file = await createTestSqlite();
  });
  afterEach(async () => {
    await file.close();
  });

  it('creates neither the file nor its folder until something is written, then uses WAL', async () => {
    const store = createKyselyStore({ db: file.db });
    expect(await store.readHead()).toBeNull();
    expect(await store.readApplied()).toEqual([]);
    expect(await store.foreignHistories()).toEqual([]);
    expect(existsSync(dirname(file.path))).toBe(false);
    await store.prepare();
    expect(file.exists()).toBe(true);
    const { rows } = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(file.db);
    expect(rows[0]?.journal_mode).toBe('wal');
    // Another instance that opened before the file existed sees it once it does.
    expect(await createKyselyStore({ db: file.open() }).readHead()).toEqual(await store.readHead());
  });

  it('works on :memory:', async () => {
    const db = new Kysely<any>({ dialect: createSqliteDialect({ path: ':memory:' }) });
    try {
      const store = createKyselyStore({ db });
      await store.prepare();
      expect((await store.readHead())?.count).toBe(0);
    } finally {
      await db.destroy();
    }
  });

  it('refuses a negative busy timeout with a sentence saying what to pass', () => {
    expect(() => createSqliteDialect({ path: file.path, busyTimeoutMs: -1 })).toThrow(/0 or more/);
  });
});
