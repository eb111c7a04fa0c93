import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/index.js';
import { createTestLibsqlServer, type TestLibsqlServer } from '../../support/libsql.js';

// libSQL over HTTP, against the Hrana test server (test/support/hrana-server.ts): what a server changes.

describe('the libSQL dialect on a server', () => {
  let server: TestLibsqlServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('keeps a transaction begun in SQL across requests, each of them its own over HTTP', async () => {
    server = await createTestLibsqlServer();
    await sql`create table t (x integer)`.execute(server.db);
    const other = server.open();
    await server.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      await sql`insert into t values (1)`.execute(conn);
      await sql`insert into t values (2)`.execute(conn);
      expect((await sql`select * from t`.execute(other)).rows).toEqual([]);
      await sql`rollback`.execute(conn);
    });
    expect((await sql`select * from t`.execute(other)).rows).toEqual([]);
  });

  it('sends the auth token given apart from the URL, or in it', async () => {
    server = await createTestLibsqlServer({ authToken: 't0ken' });
    const given = await openDatabase(server.url, { authToken: 't0ken' });
    const inUrl = await openDatabase(`${server.url}?authToken=t0ken`);
    const without = await openDatabase(server.url);
    try {
      const before = server.server.authorized();
      expect((await sql<{ one: number }>`select 1 as one`.execute(given.db)).rows).toEqual([{ one: 1 }]);
      expect((await sql<{ one: number }>`select 1 as one`.execute(inUrl.db)).rows).toEqual([{ one: 1 }]);
      expect(server.server.authorized()).toBeGreaterThan(before);
      await expect(sql`select 1`.execute(without.db)).rejects.toThrow(/Unauthorized/);
    } finally {
      await Promise.all([given.db.destroy(), inUrl.db.destroy(), without.db.destroy()]);
    }
  });
});
