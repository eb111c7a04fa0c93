import { createMigrator, LockTimeoutError } from '@mig/core';
import { Pool as NeonPool, neonConfig } from '@neondatabase/serverless';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import { createNeonDialect, readNeonUrl } from '../../../src/engines/neon/index.js';
import { createFolderSource, createKyselyAdapter, type MigrationDb, openDatabase } from '../../../src/index.js';
import { type MigrationFolder, migrationFolder } from '../../support/migrations.js';
import { type NeonProxy, neonUrl, startNeonProxy } from '../../support/neon-proxy.js';
import { expectReleaseNotice } from '../../support/release-notice.js';

// Neon's serverless driver in WebSocket mode, through WebSocket-to-TCP proxies of this process to the local
// PostgreSQL: a user's own Kysely on Neon's Pool, and what a dropped WebSocket does to the lock and to the
// migration it was running. The contract suites and the real-process scenarios run over this engine too
// (support/engines.ts).

const records = async (db: MigrationDb) =>
  (await sql<{ name: string }>`select name from mig_migrations order by id`.execute(db)).rows.map((r) => r.name);

describe("a user's own Kysely on Neon's Pool (Kysely's PostgresDialect)", () => {
  let database: TestDatabase;
  let proxy: NeonProxy;
  let folder: MigrationFolder;
  const own: Kysely<any>[] = [];

  beforeAll(async () => {
    [database, proxy] = await Promise.all([createTestDatabase('neon_own'), startNeonProxy()]);
    // As Neon's documentation configures it for a WebSocket proxy of one's own (Node 20 has no WebSocket).
    neonConfig.webSocketConstructor = WebSocket;
    neonConfig.wsProxy = (host, port) => `${proxy.address}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    folder = await migrationFolder({
      '001_todos.sql': 'create table todos (id serial primary key, title text not null);\n',
      '002_done.sql': 'alter table todos add column done boolean not null default false;\n',
    });
  });
  afterAll(async () => {
    await Promise.all(own.map((db) => db.destroy()));
    await database.drop();
    await proxy.close();
    await folder.dispose();
  });

  const kysely = () => {
    const db = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new NeonPool({ connectionString: database.url }) }),
    });
    own.push(db);
    return db;
  };

  it('is PostgreSQL to mig, and two of them racing apply each migration once', async () => {
    const [a, b] = [kysely(), kysely()];
    expect(createKyselyAdapter({ db: a }).engine).toBe('postgres');
    const opened = proxy.open;
    const migrate = (db: Kysely<any>) => {
      const adapter = createKyselyAdapter({ db });
      return createMigrator({
        source: createFolderSource(folder.dir),
        store: adapter.store,
        lock: adapter.createLock(),
      }).up();
    };
    const [first, second] = await Promise.all([migrate(a), migrate(b)]);
    expect([first.error, second.error]).toEqual([undefined, undefined]);
    expect([...first.results, ...second.results].map((r) => r.name).sort()).toEqual(['001_todos', '002_done']);
    expect(await records(a)).toEqual(['001_todos', '002_done']);
    // Through the WebSockets, not around them.
    expect(proxy.open).toBeGreaterThan(opened);
  });
});

describe('a dropped WebSocket', () => {
  let database: TestDatabase;
  let proxies: NeonProxy[];
  let folder: MigrationFolder;
  const opened: MigrationDb[] = [];

  beforeEach(async () => {
    [database, ...proxies] = await Promise.all([createTestDatabase('neon_drop'), startNeonProxy(), startNeonProxy()]);
    folder = await migrationFolder({
      // Slow for instance "a" only: the one whose WebSocket is dropped while it runs.
      '001_slow.sql':
        'create table slow (id int);\n' +
        "select pg_sleep(case when current_setting('application_name') = 'a' then 60 else 0 end);\n",
    });
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((db) => db.destroy().catch(() => {})));
    await Promise.all(proxies.map((p) => p.close()));
    await database.drop();
    await folder.dispose();
  });

  /** An instance named `name` on its own proxy, opened from its URL as the CLI and the service open it. */
  async function instance(name: string, proxy: NeonProxy) {
    const errors: Error[] = [];
    const { db, engine } = await openDatabase<any>(neonUrl(database.url, proxy), {
      applicationName: name,
      maxConnections: 2,
      onConnectionError: (error) => errors.push(error),
    });
    opened.push(db);
    const adapter = createKyselyAdapter({ db });
    const migrator = (lockTimeoutMs: number) =>
      createMigrator({
        source: createFolderSource(folder.dir),
        store: adapter.store,
        lock: adapter.createLock(),
        lockTimeoutMs,
      });
    return { db, engine, adapter, migrator, errors };
  }

  async function until(probe: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 300; i++) {
      if (await probe()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('timed out');
  }

  it('ends the session: the advisory lock is free for the next instance, the migration rolled back, then applied once', async () => {
    const [proxyA, proxyB] = proxies as [NeonProxy, NeonProxy];
    const a = await instance('a', proxyA);
    const b = await instance('b', proxyB);
    expect(a.engine).toBe('neon');
    const running = a.migrator(10_000).up();
    await until(async () => {
      const { rows } = await database.query(
        "select 1 from pg_stat_activity where application_name = 'a' and state = 'active' and query like '%pg_sleep%'",
      );
      return rows.length > 0;
    });
    // Held by a's session, over its WebSocket: b is told who holds it.
    const busy = await b.adapter
      .createLock()
      .acquire({ timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(LockTimeoutError);
    expect((busy as LockTimeoutError).holder).toMatchObject({ applicationName: 'a' });

    expect(proxyA.dropAll()).toBeGreaterThan(0);
    const failed = await running;
    expect(failed.error).toBeDefined();
    expect(failed.results.filter((r) => r.status === 'applied')).toEqual([]);

    // The server ends the session once it sees its client gone: the lock with it, and the open transaction.
    const done = await b.migrator(30_000).up();
    expect(done.error).toBeUndefined();
    expect(done.results.map((r) => [r.name, r.status])).toEqual([['001_slow', 'applied']]);
    expect(await records(b.db)).toEqual(['001_slow']);
    const { rows } = await database.query(
      "select count(*)::int as n from pg_stat_activity where application_name = 'a'",
    );
    expect(rows[0].n).toBe(0);
  });

  it('leaves a lease to its holder: the lease lives in a row, renewed over a new WebSocket', async () => {
    const [proxyA, proxyB] = proxies as [NeonProxy, NeonProxy];
    const a = await instance('a', proxyA);
    const b = await instance('b', proxyB);
    await a.adapter.store.prepare();
    const ttl = { strategy: 'lease', leaseTtlMs: 3_000 } as const;
    const held = await a.adapter.createLock(ttl).acquire({ timeoutMs: 5_000 });
    expect(proxyA.dropAll()).toBeGreaterThan(0);
    // Over two lease lifetimes: the holder, alive, renewed it through a new connection.
    const lease = b.adapter.createLock(ttl);
    await expect(lease.acquire({ timeoutMs: 7_000 })).rejects.toBeInstanceOf(LockTimeoutError);
    await held.release();
    const taken = await lease.acquire({ timeoutMs: 5_000 });
    await taken.release();
  });
});

describe('the release notice over a WebSocket', () => {
  it("tells a waiting instance the head the holder left: LISTEN/NOTIFY through Neon's pool", async () => {
    const [database, proxy] = await Promise.all([createTestDatabase('neon_notice'), startNeonProxy()]);
    try {
      await expectReleaseNotice(
        (name) =>
          new Kysely<unknown>({
            dialect: createNeonDialect({
              url: neonUrl(database.url, proxy),
              max: 2,
              applicationName: name,
              webSocketConstructor: WebSocket,
            }),
          }),
      );
    } finally {
      await proxy.close();
      await database.drop();
    }
  });
});

describe('createNeonDialect', () => {
  it('says to pass ws where the runtime has no WebSocket and none is configured, on the first query', async () => {
    expect(typeof (globalThis as { WebSocket?: unknown }).WebSocket).toBe('undefined'); // Node 20
    const configured = neonConfig.webSocketConstructor;
    neonConfig.webSocketConstructor = undefined;
    // The driver is loaded when the first query runs (so that a bundle without it builds): the error comes then.
    const db = new Kysely<any>({ dialect: createNeonDialect({ url: 'postgres://app@ep-x.aws.neon.tech/shop' }) });
    try {
      await expect(sql`select 1`.execute(db)).rejects.toThrow(/no WebSocket \(Node 20\): pass the ws package/);
    } finally {
      neonConfig.webSocketConstructor = configured;
      await db.destroy();
    }
  });

  it("sets each connection's socket options, never Neon's global ones", async () => {
    const [database, proxy] = await Promise.all([createTestDatabase('neon_dialect'), startNeonProxy()]);
    const before = { wsProxy: neonConfig.wsProxy, useSecureWebSocket: neonConfig.useSecureWebSocket };
    const { connectionString, socket } = readNeonUrl(neonUrl(database.url, proxy));
    const db = new Kysely<any>({
      dialect: createNeonDialect({ ...socket, url: connectionString, webSocketConstructor: WebSocket, max: 1 }),
    });
    // A neon:// URL takes its parameters along.
    const fromUrl = new Kysely<any>({
      dialect: createNeonDialect({ url: neonUrl(database.url, proxy), webSocketConstructor: WebSocket, max: 1 }),
    });
    try {
      const { rows } = await sql<{ n: number }>`select 1 as n`.execute(db);
      expect(rows).toEqual([{ n: 1 }]);
      expect(proxy.open).toBe(1);
      expect((await sql<{ n: number }>`select 2 as n`.execute(fromUrl)).rows).toEqual([{ n: 2 }]);
      expect(proxy.open).toBe(2);
      expect({ wsProxy: neonConfig.wsProxy, useSecureWebSocket: neonConfig.useSecureWebSocket }).toEqual(before);
    } finally {
      await Promise.all([db.destroy(), fromUrl.destroy()]);
      await proxy.close();
      await database.drop();
    }
  });
});
