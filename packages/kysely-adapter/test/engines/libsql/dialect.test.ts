import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { createClient } from '@libsql/client';
import { LibsqlDialect } from '@libsql/kysely-libsql';
import { createMigrator, MigErrorCode } from '@mig/core';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectEngine } from '../../../src/detect.js';
import { createLibsqlDialect } from '../../../src/engines/libsql/index.js';
import { isNoSuchTable } from '../../../src/engines/sqlite/sql.js';
import {
  createKyselyAdapter,
  createKyselyStore,
  createListSource,
  describeConnection,
  describeWhere,
  parseDatabaseUrl,
} from '../../../src/index.js';
import { createTestLibsql, type TestLibsql } from '../../support/libsql.js';

describe('libSQL URLs', () => {
  it('reads a local file as libsql+file:PATH, leaving file: and sqlite: to SQLite', () => {
    expect(parseDatabaseUrl('libsql+file:./data/app.db')).toMatchObject({ engine: 'libsql', path: './data/app.db' });
    expect(parseDatabaseUrl('libsql+file:///var/app.db')).toMatchObject({ engine: 'libsql', path: '/var/app.db' });
    expect(parseDatabaseUrl('file:./app.db').engine).toBe('sqlite');
    expect(parseDatabaseUrl('sqlite:./app.db').engine).toBe('sqlite');
    expect(describeWhere('libsql+file:./data/app.db')).toBe('libSQL ./data/app.db');
  });

  it('reads libsql://, https:// and http:// as servers, and never shows the auth token', () => {
    const url = 'libsql://shop-acme.turso.io?authToken=s3cret';
    expect(parseDatabaseUrl(url).engine).toBe('libsql');
    expect(parseDatabaseUrl(url).path).toBeUndefined();
    expect(describeConnection(url)).toEqual({
      system: 'sqlite',
      namespace: 'shop-acme.turso.io',
      server: 'shop-acme.turso.io:443',
    });
    expect(describeWhere('http://127.0.0.1:8080')).toBe('libSQL 127.0.0.1:8080');
    expect(parseDatabaseUrl('https://shop-acme.turso.io').engine).toBe('libsql');
    expect(JSON.stringify(describeConnection(url))).not.toContain('s3cret');
  });

  it('refuses memory and a libsql: URL without a host, saying what to write instead', () => {
    expect(() => parseDatabaseUrl('libsql+file::memory:')).toThrow(/libsql\+file:\.\/data\/app\.db.*sqlite::memory:/);
    expect(() => parseDatabaseUrl('libsql:./app.db')).toThrow(/libsql:\/\/HOST.*libsql\+file:PATH/);
    expect(() => createLibsqlDialect({ url: ':memory:' })).toThrow(/does not outlive a transaction/);
  });
});

describe("libSQL's errors", () => {
  it('reads a missing table as SQLite, a local client and a server word it', () => {
    const error = (message: string) => Object.assign(new Error(message), { code: 'SQLITE_ERROR' });
    expect(isNoSuchTable(error('no such table: mig_migrations_head'))).toBe(true);
    expect(isNoSuchTable(error('SQLITE_ERROR: no such table: mig_migrations_head'))).toBe(true);
    expect(
      isNoSuchTable(
        error(
          'SQLITE_ERROR: SQLite function returned error code 1 (SQL logic error): no such table: mig_migrations_head',
        ),
      ),
    ).toBe(true);
    expect(isNoSuchTable(error('SQLITE_ERROR: near "selec": syntax error'))).toBe(false);
  });
});

describe('the libSQL dialect on a local file', () => {
  let file: TestLibsql;
  beforeEach(async () => {
    file = await createTestLibsql();
  });
  afterEach(async () => {
    await file.close();
  });

  it('creates neither the file nor its folder until something is written, then uses WAL', async () => {
    const store = createKyselyStore({ db: file.db });
    expect(await store.readHead()).toBeNull();
    expect(await store.readApplied()).toEqual([]);
    expect(existsSync(dirname(file.path))).toBe(false);
    await store.prepare();
    expect(file.exists()).toBe(true);
    const { rows } = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(file.db);
    expect(rows[0]?.journal_mode).toBe('wal');
    // Another instance that opened before the file existed sees it once it does.
    expect(await createKyselyStore({ db: file.open() }).readHead()).toEqual(await store.readHead());
  });

  it('keeps a transaction begun in SQL on its connection until COMMIT or ROLLBACK', async () => {
    await sql`create table t (x integer)`.execute(file.db);
    const other = file.open();
    await file.db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      await sql`insert into t values (1)`.execute(conn);
      // Not committed: another client does not see it, and cannot write.
      expect((await sql`select * from t`.execute(other)).rows).toEqual([]);
      await expect(sql`insert into t values (2)`.execute(other)).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      await sql`rollback`.execute(conn);
      await sql`begin`.execute(conn);
      await sql`insert into t values (3)`.execute(conn);
      await sql`commit`.execute(conn);
    });
    expect((await sql<{ x: number }>`select x from t`.execute(other)).rows).toEqual([{ x: 3 }]);
    await expect(sql`commit`.execute(file.db)).rejects.toThrow(/no transaction is active/);
  });

  it("runs a transaction on a connection of its own, apart from the client's other statements", async () => {
    await sql`create table t (x integer)`.execute(file.db);
    const client = createClient({ url: `file:${file.path}` });
    const db = new Kysely<any>({ dialect: createLibsqlDialect({ client }) });
    try {
      await db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn);
        await sql`insert into t values (1)`.execute(conn);
        // The client's own statements do not land in the transaction (as they would on a BEGIN sent to it).
        expect((await client.execute('select count(*) as n from t')).rows[0]?.n).toBe(0);
        await sql`commit`.execute(conn);
      });
      expect((await client.execute('select count(*) as n from t')).rows[0]?.n).toBe(1);
    } finally {
      await db.destroy();
      client.close();
    }
  });

  it("runs Kysely's transactions on the client's interactive transaction", async () => {
    await sql`create table t (x integer)`.execute(file.db);
    await expect(
      file.db.transaction().execute(async (trx) => {
        await sql`insert into t values (1)`.execute(trx);
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    await file.db.transaction().execute((trx) => sql`insert into t values (2)`.execute(trx));
    expect((await sql<{ x: number }>`select x from t`.execute(file.open())).rows).toEqual([{ x: 2 }]);
  });

  it('waits for another client holding the write lock without stalling, and names it when it gives up', async () => {
    await createKyselyStore({ db: file.db }).prepare();
    const holder = createClient({ url: `file:${file.path}` });
    try {
      const writing = await holder.transaction('write');
      await writing.execute('create table held (x integer)');
      const adapter = createKyselyAdapter({ db: file.db });
      const migrator = createMigrator({
        source: createListSource([{ name: '001_a', sql: 'create table a (id integer);' }]),
        store: adapter.store,
        lock: adapter.createLock(),
        lockTimeoutMs: 1_500,
      });
      let ticks = 0;
      const ticking = setInterval(() => ticks++, 50);
      const failed = await migrator.up();
      clearInterval(ticking);
      expect(failed.error?.code).toBe(MigErrorCode.LockTimeout);
      expect(failed.error?.message).toContain('writing to the database file');
      // The event loop ran while it waited: each wait inside libSQL is short, the rest asynchronous.
      expect(ticks).toBeGreaterThan(10);
      await writing.rollback();
      const applied = await migrator.up();
      expect(applied.error).toBeUndefined();
      expect(applied.results.map((r) => r.name)).toEqual(['001_a']);
    } finally {
      holder.close();
    }
  });

  it('uses a client it is given, and leaves it open', async () => {
    await sql`select 1`.execute(file.db);
    await sql`create table t (x integer)`.execute(file.db);
    const client = createClient({ url: `file:${file.path}` });
    const db = new Kysely<any>({ dialect: createLibsqlDialect({ client }) });
    await createKyselyStore({ db }).prepare();
    await db.destroy();
    expect((await client.execute('select count(*) as n from mig_migrations_head')).rows[0]?.n).toBe(1);
    client.close();
  });

  it("is told from SQLite by mig's brand; kysely-libsql's own dialect reads as SQLite", async () => {
    expect(detectEngine(file.db).engine).toBe('libsql');
    const plain = new Kysely<any>({ dialect: new LibsqlDialect({ url: ':memory:' }) });
    try {
      expect(detectEngine(plain).engine).toBe('sqlite');
      expect(detectEngine(plain, 'libsql').engine).toBe('libsql');
    } finally {
      await plain.destroy();
    }
  });
});
