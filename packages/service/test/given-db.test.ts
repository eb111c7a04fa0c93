import { MigErrorCode } from '@mig/core';
import { createListSource } from '@mig/kysely-adapter';
import { createPgDialect } from '@mig/kysely-adapter/pg';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createDatabase } from '../src/index.js';

// createDatabase on a Kysely instance the application made (`db`), as a Worker hands over its D1 binding: no
// URL is read, the engine comes from the instance, and it is the instance handed back.

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const MIGRATIONS = createListSource([{ name: '001_notes', sql: 'create table notes (id serial primary key);' }]);

describe('createDatabase({ db })', () => {
  let database: TestDatabase;
  let db: Kysely<any>;
  beforeEach(async () => {
    database = await createTestDatabase('service_given_db');
    db = new Kysely<any>({ dialect: createPgDialect({ url: database.url, max: 2 }) });
  });
  afterEach(async () => {
    await db.destroy().catch(() => {});
    await database.drop();
  });

  it('migrates the instance it was given and hands that instance back, with no DATABASE_URL', async () => {
    const given = createDatabase({ db, migrations: MIGRATIONS, env: {}, logger: silent, handleSignals: false });
    expect(await given.ensureInitialized()).toBe(db);
    expect(given.report()).toMatchObject({ engine: 'postgres', where: expect.stringMatching(/^postgresql /) });
    const { rows } = await sql<{ name: string }>`select name from mig_migrations`.execute(database.db);
    expect(rows).toEqual([{ name: '001_notes' }]);
  });

  it('refuses tenants, which need the URL, before anything touches the database', async () => {
    const given = createDatabase({ db, migrations: MIGRATIONS, env: {}, logger: silent, tenants: true });
    await expect(given.ensureInitialized({ tenant: 'acme' })).rejects.toMatchObject({
      code: MigErrorCode.InvalidOption,
      message: expect.stringMatching(/tenant needs the database URL/),
    });
    const { rows } = await sql`select 1 from information_schema.tables where table_name = 'mig_migrations'`.execute(
      database.db,
    );
    expect(rows).toEqual([]);
  });
});
