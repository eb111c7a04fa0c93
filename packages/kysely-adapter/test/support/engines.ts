import type { LockStrategy } from '@mig/core';
import type { LockLease } from '@mig/core/adapter';
import type { LockCapabilities } from '@mig/core/testing';
import { neonConfig } from '@neondatabase/serverless';
import { Kysely, type RawBuilder, sql } from 'kysely';
import WebSocket from 'ws';
import { createTestPGlite } from '../../../../test/support/pglite.js';
import { createTestDatabase } from '../../../../test/support/postgres.js';
import type { ProcessResult, RunningProcess } from '../../../../test/support/processes.js';
import { createMysqlDialect } from '../../src/engines/mysql/index.js';
import { createNeonDialect } from '../../src/engines/neon/index.js';
import { createNeonHttpDialect } from '../../src/engines/neon-http/index.js';
import { PGliteDialect } from '../../src/engines/pglite/index.js';
import { createPgDialect } from '../../src/engines/postgres/index.js';
import type { Engine } from '../../src/engines/registry.js';
import type { KyselyFence, MigrationDb } from '../../src/index.js';
import { type ContractMigrations, ROW_PER_MIGRATION, TABLE_PER_MIGRATION } from './contract-migrations.js';
import { createTestD1 } from './d1.js';
import { createTestLibsql, createTestLibsqlServer } from './libsql.js';
import { gatedMigration } from './migrations.js';
import { createTestMysqlDatabase } from './mysql.js';
import { neonHttpEndpoint, neonHttpUrl } from './neon-http-endpoint.js';
import { neonProxy, neonUrl } from './neon-proxy.js';
import { createTestSqlite } from './sqlite.js';

// The engine matrix: every engine the adapter runs on, as the shared suites see it. The contract suites
// (contract.test.ts) and the real-process scenarios (processes.test.ts) loop over it, and read what an engine
// can do from its capabilities, never from its name. Adding an engine to the tests is one entry in ENGINES.

/** What the shared suites need to know an engine can do. */
export interface EngineCapabilities {
  /** The SQL it speaks, as OpenTelemetry names the system (`postgresql` for PostgreSQL and PGlite). */
  readonly system: string;
  /**
   * DDL is rolled back with its transaction. Without it, the contract migrations leave marker rows instead
   * of tables, and a failed migration's DDL stays.
   */
  readonly transactionalDdl: boolean;
  /** Runs migrations marked non-transactional outside a transaction, recording them after they succeed. */
  readonly nonTransactional: boolean;
  /** `preview` returns the SQL of a migration. */
  readonly previewsSql: boolean;
  /** A session lock (the `advisory` strategy) besides the lease. */
  readonly sessionLocks: boolean;
  /**
   * Separate processes can share the database (the entry then says how in `processes`). False: one process
   * owns it, and its lock is an in-process mutex.
   */
  readonly processes: boolean;
  /**
   * Instances share the database without being processes of this machine (Workers' isolates on a D1
   * binding): the lock contract runs between Kysely instances on it, each as another instance, while the
   * real-process scenarios do not apply (the engine's own folder races its isolates).
   */
  readonly isolates?: boolean;
  /**
   * A lease whose holder is a process of this host that no longer exists is taken over at once (and the
   * instance says so), not when it expires.
   */
  readonly takesOverDeadHolder: boolean;
}

/** A fresh database of one engine, for one test (or one file). */
export interface EngineDatabase {
  /** A Kysely on it, closed by `close`. */
  readonly db: MigrationDb;
  /** The URL an application instance opens it with (`openDatabase`). */
  readonly url: string;
  /**
   * Another Kysely on the same database, with connections of its own, as another instance would have it;
   * closed by `close`.
   */
  connect(): MigrationDb;
  /** Whether the database exists yet: a server's is made by `open`, a file by its first write. */
  exists(): boolean;
  /** The names of its tables (in `public` where there are schemas), sorted; reading creates nothing. */
  tables(): Promise<string[]>;
  /** Ends every connection and drops the database. */
  close(): Promise<void>;
}

/** A lock strategy of an engine, as the lock contract runs it. */
export interface TestLock {
  readonly strategy: LockStrategy;
  /** For titles: "advisory lock", "GET_LOCK (advisory)". */
  readonly title: string;
  readonly capabilities: LockCapabilities;
  /**
   * Loses a held lock behind its holder's back, the holder running on, as it can happen in production;
   * required when `capabilities.losesLock`.
   */
  loseLock?(database: EngineDatabase, lease: LockLease<KyselyFence>): Promise<void>;
}

export interface TestEngine {
  /** The registry's name (src/engines/registry.ts). */
  readonly name: Engine;
  /** For titles: "PostgreSQL", "MariaDB". */
  readonly label: string;
  readonly capabilities: EngineCapabilities;
  /** A fresh, empty database; `label` goes into its name where it has one. */
  open(label?: string): Promise<EngineDatabase>;
  /** How the contract migrations leave their effect here. */
  readonly contract: ContractMigrations;
  /** Every lock strategy it has. */
  readonly locks: readonly [TestLock, ...TestLock[]];
  /** What the real-process scenarios need, where `capabilities.processes`. */
  readonly processes?: ProcessTraits;
}

/** What the real-process scenarios (processes.test.ts) need of an engine whose database processes share. */
export interface ProcessTraits {
  /** How many instances race on a fresh database, over how many steps: what the engine bears on two cores. */
  readonly race: { readonly instances: number; readonly steps: number };
  /**
   * The SQL default of the audit table's `app` (see `auditedMigrations`): who ran a SQL migration, where the
   * engine can tell (a session's application name), else `'sql'`.
   */
  readonly currentApp: string;
  /** A migration its instance is killed in. */
  readonly stall: Stall;
  /**
   * How a lock timeout names a session lock's holder, the instance `name` being inside a migration: where
   * the engine has session locks.
   */
  sessionHolder?(database: EngineDatabase, name: string): Promise<string>;
}

/**
 * A migration that writes its audit row, then stays inside far longer than any test waits: a statement the
 * server runs (so the server is what must notice that the instance died), or, where the database lives in
 * the instance, a wait in the instance.
 */
export interface Stall {
  /** The migration's file (its name and content), named `name`. */
  files(name: string): Record<string, string>;
  /** Resolves once `instance` stays inside that migration. */
  reached(database: EngineDatabase, instance: RunningProcess, name: string): Promise<void>;
  /** How long the next instance may wait for the lock once the holder was killed in there. */
  readonly recoveryMs: number;
}

/** Names its holder, reports its waits, and can be lost: what every database lock can do. */
const DATABASE_LOCK: LockCapabilities = { namesHolder: true, reportsWaits: true, losesLock: true };

/** A session lock lost as a transaction pooler loses it: the session lives on, its lock is gone. */
function releasedSessionLock(statement: RawBuilder<unknown>): TestLock['loseLock'] {
  return async (_database, lease) => {
    if (lease.fence?.kind !== 'advisory') throw new Error('a session lock hands out advisory fences');
    await statement.execute(lease.fence.db);
  };
}

/** A lease that runs out (its holder stalled past the TTL): anyone may take it over from then on. */
function expiredLease(now: RawBuilder<unknown>): TestLock['loseLock'] {
  return async (database) => {
    await sql`update mig_migrations_lock set expires_at = ${now}`.execute(database.db);
  };
}

/** Tables of the `public` schema (PostgreSQL, PGlite). */
async function publicTables(db: MigrationDb): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables where table_schema = 'public' order by 1`.execute(db);
  return rows.map((r) => r.name);
}

/** Destroys every Kysely a database handed out, then the database. */
function closing(connections: MigrationDb[], drop: () => Promise<void>): () => Promise<void> {
  return async () => {
    await Promise.all(connections.splice(0).map((db) => db.destroy().catch(() => {})));
    await drop();
  };
}

/** Polls `probe` every 100 ms until it holds, for up to a minute; fails at once if `instance` exits. */
async function until(what: string, instance: RunningProcess, probe: () => Promise<boolean>): Promise<void> {
  let exited: ProcessResult | undefined;
  void instance.done.then((result) => {
    exited = result;
  });
  for (let i = 0; i < 600; i++) {
    if (exited) throw new Error(`the instance exited before ${what}:\n${exited.stdout}\n${exited.stderr}`);
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** A migration that runs `statement` on the server after its audit row; reached once a session runs it. */
function serverStall(statement: string, running: string, recoveryMs: number): Stall {
  return {
    files: (name) => ({ [`${name}.sql`]: `insert into audit (migration) values ('${name}');\n${statement};\n` }),
    reached: (database, instance, name) =>
      until(`it ran ${name}`, instance, async () => {
        const { rows } = await sql.raw(running).execute(database.db);
        return rows.length > 0;
      }),
    recoveryMs,
  };
}

const postgres: TestEngine = {
  name: 'postgres',
  label: 'PostgreSQL',
  capabilities: {
    system: 'postgresql',
    transactionalDdl: true,
    nonTransactional: true,
    previewsSql: true,
    sessionLocks: true,
    processes: true,
    takesOverDeadHolder: false,
  },
  async open(label = 'adapter') {
    const database = await createTestDatabase(label);
    const connections: MigrationDb[] = [];
    return {
      db: database.db,
      url: database.url,
      connect() {
        const db = new Kysely<any>({ dialect: createPgDialect({ url: database.url, max: 3 }) });
        connections.push(db);
        return db;
      },
      exists: () => true,
      tables: () => publicTables(database.db),
      close: closing(connections, () => database.drop()),
    };
  },
  contract: TABLE_PER_MIGRATION,
  locks: [
    // (Ending the session instead would fail the bound store's next statement with a connection error, not
    // with LOCK_LOST.)
    {
      strategy: 'advisory',
      title: 'advisory lock',
      capabilities: DATABASE_LOCK,
      loseLock: releasedSessionLock(sql`select pg_advisory_unlock_all()`),
    },
    { strategy: 'lease', title: 'lease lock', capabilities: DATABASE_LOCK, loseLock: expiredLease(sql`now()`) },
  ],
  processes: {
    race: { instances: 50, steps: 20 },
    currentApp: "current_setting('application_name')",
    // The server ends a dead client's statement within a second (the lock session's
    // client_connection_check_interval), long before pg_sleep would.
    stall: serverStall(
      'select pg_sleep(60)',
      `select 1 as found from pg_stat_activity where datname = current_database() and state = 'active'
       and query like '%pg_sleep(60)%' and pid <> pg_backend_pid()`,
      20_000,
    ),
    sessionHolder: async (_database, name) => `application "${name}"`,
  },
};

/** A Kysely on a `neon://` URL (Neon's serverless Pool over WebSockets), as `openDatabase` makes it. */
function neonKysely(url: string, max: number): MigrationDb {
  return new Kysely<any>({ dialect: createNeonDialect({ url, max, webSocketConstructor: WebSocket }) });
}

// PostgreSQL through Neon's serverless driver in WebSocket mode, reaching the local server through a
// WebSocket-to-TCP proxy of this process (support/neon-proxy.ts), as Neon's own proxy reaches its computes.
// Everything mig does goes over the WebSockets; only creating and dropping the database does not.
const neon: TestEngine = {
  ...postgres,
  name: 'neon',
  label: 'Neon (WebSocket)',
  async open(label = 'adapter') {
    const [database, proxy] = await Promise.all([createTestDatabase(`neon_${label}`), neonProxy()]);
    const url = neonUrl(database.url, proxy);
    const db = neonKysely(url, 5);
    const connections: MigrationDb[] = [db];
    return {
      db,
      url,
      connect() {
        const other = neonKysely(url, 3);
        connections.push(other);
        return other;
      },
      exists: () => true,
      tables: () => publicTables(db),
      close: closing(connections, () => database.drop()),
    };
  },
  processes: {
    ...(postgres.processes as ProcessTraits),
    // Every instance's connections go through the one proxy of the test process.
    race: { instances: 20, steps: 8 },
  },
};

// PostgreSQL through Neon's serverless driver in HTTP mode, against a local endpoint of this process that
// speaks Neon's SQL-over-HTTP protocol over real pg connections (support/neon-http-endpoint.ts). No session:
// the lease is the only lock, and instances are Kysely instances that share nothing but the endpoint (as
// functions of a serverless platform do); real processes race in the engine's own folder.
const neonHttp: TestEngine = {
  name: 'neon-http',
  label: 'Neon (HTTP)',
  capabilities: {
    ...postgres.capabilities,
    sessionLocks: false,
    processes: false,
    isolates: true,
  },
  async open(label = 'adapter') {
    const [database, endpoint] = await Promise.all([createTestDatabase(`neon_http_${label}`), neonHttpEndpoint()]);
    // What a user with a local endpoint sets in their own code; this dialect only reads it.
    neonConfig.fetchEndpoint = endpoint.url;
    const url = neonHttpUrl(database.url);
    const http = () => new Kysely<any>({ dialect: createNeonHttpDialect({ url }) });
    const db = http();
    const connections: MigrationDb[] = [db];
    return {
      db,
      url,
      connect() {
        const other = http();
        connections.push(other);
        return other;
      },
      exists: () => true,
      tables: () => publicTables(database.db),
      close: closing(connections, () => database.drop()),
    };
  },
  contract: TABLE_PER_MIGRATION,
  locks: [{ strategy: 'lease', title: 'lease lock', capabilities: DATABASE_LOCK, loseLock: expiredLease(sql`now()`) }],
};

const pglite: TestEngine = {
  name: 'pglite',
  label: 'PGlite',
  capabilities: {
    system: 'postgresql',
    transactionalDdl: true,
    nonTransactional: true,
    previewsSql: true,
    sessionLocks: false,
    processes: false,
    takesOverDeadHolder: false,
  },
  async open() {
    const handle = await createTestPGlite();
    const connections: MigrationDb[] = [];
    return {
      db: handle.db,
      url: `pglite:${handle.dataDir}`,
      connect() {
        const db = new Kysely<any>({ dialect: new PGliteDialect({ pglite: handle.pglite, closeOnDestroy: false }) });
        connections.push(db);
        return db;
      },
      exists: () => true,
      tables: () => publicTables(handle.db),
      close: closing(connections, () => handle.close()),
    };
  },
  contract: TABLE_PER_MIGRATION,
  // One process owns a PGlite database: its "other instances" are other callers in this process.
  locks: [
    {
      strategy: 'advisory',
      title: 'in-process mutex',
      capabilities: { namesHolder: true, reportsWaits: false, losesLock: false },
    },
  ],
};

const mysql: TestEngine = {
  name: 'mysql',
  label: 'MariaDB',
  capabilities: {
    system: 'mysql',
    transactionalDdl: false,
    nonTransactional: true,
    previewsSql: true,
    sessionLocks: true,
    processes: true,
    takesOverDeadHolder: false,
  },
  async open(label = 'adapter') {
    const database = await createTestMysqlDatabase(label);
    const connections: MigrationDb[] = [];
    return {
      db: database.db,
      url: database.url,
      connect() {
        const db = new Kysely<any>({ dialect: createMysqlDialect({ url: database.url, maxConnections: 3 }) });
        connections.push(db);
        return db;
      },
      exists: () => true,
      tables: () => database.tables(),
      close: closing(connections, () => database.drop()),
    };
  },
  contract: ROW_PER_MIGRATION,
  locks: [
    // As after a RELEASE_ALL_LOCKS behind the holder's back.
    {
      strategy: 'advisory',
      title: 'GET_LOCK (advisory)',
      capabilities: DATABASE_LOCK,
      loseLock: releasedSessionLock(sql`select release_all_locks()`),
    },
    {
      strategy: 'lease',
      title: 'lease lock',
      capabilities: DATABASE_LOCK,
      loseLock: expiredLease(sql`utc_timestamp(6)`),
    },
  ],
  processes: {
    race: { instances: 20, steps: 8 },
    currentApp: "'sql'",
    // MySQL lets a dead client's statement run to its end before it ends the session and frees its locks.
    stall: serverStall(
      'select sleep(5)',
      `select 1 as found from information_schema.processlist
       where db = database() and info like '%sleep(5)%' and id <> connection_id()`,
      60_000,
    ),
    // GET_LOCK's holder is named by its connection: the one in the transaction of the holder's migration.
    async sessionHolder(database) {
      const { rows } = await sql<{ id: number }>`
        select t.trx_mysql_thread_id as id from information_schema.innodb_trx t
        join information_schema.processlist p on p.id = t.trx_mysql_thread_id
        where p.db = database() and p.id <> connection_id()`.execute(database.db);
      if (rows.length !== 1) throw new Error(`expected one transaction in the database, found ${rows.length}`);
      return `MySQL connection ${Number(rows[0]?.id)}`;
    },
  },
};

/** The database lives in the instance: it waits in its own code. */
const IN_PROCESS_STALL: Stall = {
  files: (name) => ({ [`${name}.mjs`]: gatedMigration(name) }),
  reached: async (_database, instance, name) => {
    await instance.waitFor(new RegExp(`^started ${name}$`), 60_000);
  },
  recoveryMs: 30_000,
};

const sqlite: TestEngine = {
  name: 'sqlite',
  label: 'SQLite',
  capabilities: {
    system: 'sqlite',
    transactionalDdl: true,
    nonTransactional: true,
    previewsSql: true,
    sessionLocks: false,
    processes: true,
    takesOverDeadHolder: true,
  },
  async open() {
    const file = await createTestSqlite();
    return {
      db: file.db,
      url: `sqlite:${file.path}`,
      connect: () => file.open(),
      exists: () => file.exists(),
      tables: async () => (file.exists() ? (await file.tables()).filter((name) => !name.startsWith('sqlite_')) : []),
      close: () => file.close(),
    };
  },
  contract: TABLE_PER_MIGRATION,
  // The lease is the only lock SQLite has.
  locks: [
    {
      strategy: 'lease',
      title: 'lease lock',
      capabilities: DATABASE_LOCK,
      loseLock: expiredLease(sql`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 seconds')`),
    },
  ],
  processes: {
    race: { instances: 20, steps: 12 },
    currentApp: "'sql'",
    stall: IN_PROCESS_STALL,
  },
};

/** A local libSQL file (a server cannot run here): SQLite's SQL over libSQL's client and its transactions. */
const libsql: TestEngine = {
  name: 'libsql',
  label: 'libSQL',
  capabilities: { ...sqlite.capabilities },
  async open() {
    const file = await createTestLibsql();
    return {
      db: file.db,
      url: file.url,
      connect: () => file.open(),
      exists: () => file.exists(),
      tables: () => file.tables(),
      close: () => file.close(),
    };
  },
  contract: TABLE_PER_MIGRATION,
  locks: sqlite.locks,
  processes: { race: { instances: 20, steps: 12 }, currentApp: "'sql'", stall: IN_PROCESS_STALL },
};

const d1: TestEngine = {
  name: 'd1',
  label: 'Cloudflare D1',
  capabilities: {
    system: 'sqlite',
    transactionalDdl: true,
    nonTransactional: true,
    previewsSql: true,
    sessionLocks: false,
    processes: false,
    isolates: true,
    takesOverDeadHolder: false,
  },
  // A local D1 through miniflare's workerd, in a persist folder of its own.
  async open() {
    const database = await createTestD1();
    return {
      db: database.db,
      url: database.url,
      connect: () => database.connect(),
      exists: () => true,
      tables: () => database.tables(),
      close: () => database.close(),
    };
  },
  contract: TABLE_PER_MIGRATION,
  // D1 has no session: the lease is its only lock.
  locks: [
    {
      strategy: 'lease',
      title: 'lease lock',
      capabilities: DATABASE_LOCK,
      loseLock: expiredLease(sql`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 seconds')`),
    },
  ],
};

/**
 * A libSQL server over HTTP: the Hrana test server (test/support/hrana-server.ts) on a file, reached through
 * libSQL's HTTP client, each request a stream's, as with sqld or Turso.
 */
const libsqlServer: TestEngine = {
  name: 'libsql',
  label: 'libSQL over HTTP',
  capabilities: { ...sqlite.capabilities },
  async open() {
    const server = await createTestLibsqlServer();
    return {
      db: server.db,
      url: server.url,
      connect: () => server.open(),
      exists: () => true,
      tables: () => server.tables(),
      close: () => server.close(),
    };
  },
  contract: TABLE_PER_MIGRATION,
  locks: sqlite.locks,
  // A killed holder's transaction ends when the server ends its idle stream (5 s here).
  processes: { race: { instances: 6, steps: 6 }, currentApp: "'sql'", stall: IN_PROCESS_STALL },
};

/** Every engine, in the order the suites run them. */
export const ENGINES: readonly TestEngine[] = [
  postgres,
  pglite,
  mysql,
  sqlite,
  libsql,
  libsqlServer,
  d1,
  neon,
  neonHttp,
];

/** The engine of the matrix by its registry name. */
export function engine(name: Engine): TestEngine {
  const found = ENGINES.find((e) => e.name === name);
  if (!found) throw new Error(`${name} is not in the test engine matrix (test/support/engines.ts)`);
  return found;
}

/** What the real-process scenarios need of an engine; an error for an engine whose database processes cannot share. */
export function processTraits(engine: TestEngine): ProcessTraits {
  if (!engine.capabilities.processes || !engine.processes) {
    throw new Error(
      `${engine.label}: separate processes cannot share its database, or the matrix says nothing of them`,
    );
  }
  return engine.processes;
}
