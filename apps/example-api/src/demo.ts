// The tour a newcomer runs first (`npm run demo` at the root). Every figure it prints is measured in
// this run. Without DATABASE_URL it uses the embedded PGlite; with it, fresh databases on that server
// (PostgreSQL, MySQL/MariaDB) or fresh SQLite files.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PGlite } from '@electric-sql/pglite';
import { serve } from '@hono/node-server';
import { summarizeConfig } from '@mig/config';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { createApp } from './app.js';
import { createDatabase } from './lib/database.js';
import { createLogger } from './lib/logger.js';
import { APP_DIR } from './lib/paths.js';
import { setupTelemetry } from './lib/telemetry.js';

const started = performance.now();
const out = (line = '') => process.stdout.write(`${line}\n`);
const step = (n: number, title: string) => out(`\n${n}. ${title}`);
const indent = (text: string, by = '   ') =>
  text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(0));

const DATA = join(APP_DIR, '.data');
const TEMPLATE = join(DATA, 'pglite-template');
const serverScript = join(APP_DIR, 'dist', 'server.js');
const baseUrl = process.env.DATABASE_URL || undefined;

/** A fresh, empty database for one part of the tour. */
interface Fresh {
  readonly url?: string;
  readonly pgliteDir?: string;
  readonly label: string;
  tables(): Promise<string[]>;
  /** How many times each migration is recorded in mig's store. */
  records(): Promise<Array<{ name: string; n: number }>>;
  drop(): Promise<void>;
}

let freshCount = 0;
async function freshDatabase(): Promise<Fresh> {
  freshCount++;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(baseUrl ?? '')?.[1]?.toLowerCase();
  if (baseUrl && (scheme === 'mysql' || scheme === 'mariadb')) return freshMysql(baseUrl);
  if (baseUrl && (scheme === 'sqlite' || scheme === 'file')) return freshSqlite('sqlite');
  // A local libSQL file is a SQLite file, read by the same means; the app reaches it through libSQL's client.
  if (baseUrl && scheme === 'libsql+file') return freshSqlite('libsql+file');
  if (baseUrl) return freshPostgres(baseUrl);
  return freshPglite();
}

/** A new database on the PostgreSQL server of DATABASE_URL. */
async function freshPostgres(base: string): Promise<Fresh> {
  const name = `mig_demo_${process.pid}_${freshCount}`;
  const admin = async <T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  await admin(base, (c) => c.query(`create database "${name}"`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    label: `database ${name}`,
    tables: () =>
      admin(url.toString(), async (c) => {
        const { rows } = await c.query(
          "select table_name as t from information_schema.tables where table_schema = 'public' order by 1",
        );
        return rows.map((r) => r.t as string);
      }),
    records: () =>
      admin(url.toString(), async (c) => {
        const { rows } = await c.query('select name, count(*)::int as n from mig_migrations group by name');
        return rows as Array<{ name: string; n: number }>;
      }),
    drop: () => admin(base, (c) => c.query(`drop database if exists "${name}" with (force)`)).then(() => {}),
  };
}

/** A new database on the MySQL or MariaDB server of DATABASE_URL. */
async function freshMysql(base: string): Promise<Fresh> {
  const name = `mig_demo_${process.pid}_${freshCount}`;
  const server = new URL(base);
  server.pathname = '/';
  const query = async (sqlText: string, params: unknown[] = []) => {
    const c = await createConnection(server.toString());
    try {
      return (await c.query(sqlText, params))[0] as Array<Record<string, unknown>>;
    } finally {
      await c.end();
    }
  };
  await query(`create database \`${name}\``);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    label: `database ${name}`,
    tables: async () =>
      (
        await query('select table_name as t from information_schema.tables where table_schema = ? order by 1', [name])
      ).map((r) => String(r.t)),
    records: async () =>
      (await query(`select name, count(*) as n from \`${name}\`.mig_migrations group by name`)).map((r) => ({
        name: String(r.name),
        n: Number(r.n),
      })),
    drop: async () => {
      await query(`drop database if exists \`${name}\``);
    },
  };
}

/** A new SQLite file in the app's .data folder, reached as SQLite or as a local libSQL file. */
async function freshSqlite(scheme: 'sqlite' | 'libsql+file'): Promise<Fresh> {
  const file = join(DATA, `demo-${process.pid}-${freshCount}.db`);
  await mkdir(DATA, { recursive: true });
  const read = <T>(work: (db: Database.Database) => T): T => {
    if (!existsSync(file)) return work(new Database(':memory:'));
    const db = new Database(file, { readonly: true });
    try {
      return work(db);
    } finally {
      db.close();
    }
  };
  return {
    url: `${scheme}:${file}`,
    label: `${scheme === 'sqlite' ? 'SQLite' : 'libSQL'} ${file.replace(`${APP_DIR}/`, '')}`,
    tables: async () =>
      read((db) =>
        (db.prepare("select name from sqlite_master where type = 'table' order by 1").all() as { name: string }[])
          .map((r) => r.name)
          .filter((n) => !n.startsWith('sqlite_')),
      ),
    records: async () =>
      read((db) => db.prepare('select name, count(*) as n from mig_migrations group by name').all()) as Array<{
        name: string;
        n: number;
      }>,
    drop: async () => {
      for (const suffix of ['', '-wal', '-shm', '-journal']) await rm(`${file}${suffix}`, { force: true });
    },
  };
}

/** A new PGlite data directory, copied from an initialised template. */
async function freshPglite(): Promise<Fresh> {
  // A fresh PGlite data directory takes seconds to initialise; a copy of an initialised one, well under one.
  if (!existsSync(join(TEMPLATE, 'PG_VERSION'))) {
    out('   (first run: initialising the embedded database template, once; a few seconds)');
    const building = `${TEMPLATE}.${process.pid}`;
    await mkdir(building, { recursive: true });
    const pglite = new PGlite(building);
    await pglite.waitReady;
    await pglite.close();
    await rm(TEMPLATE, { recursive: true, force: true });
    await rename(building, TEMPLATE);
  }
  const dir = join(DATA, `demo-${freshCount}`);
  await rm(dir, { recursive: true, force: true });
  await cp(TEMPLATE, dir, { recursive: true });
  const query = async <T>(text: string): Promise<T[]> => {
    const pglite = new PGlite(dir);
    try {
      return (await pglite.query<T>(text)).rows;
    } finally {
      await pglite.close();
    }
  };
  return {
    pgliteDir: dir,
    label: `PGlite ${dir.replace(`${APP_DIR}/`, '')}`,
    tables: async () =>
      (
        await query<{ t: string }>(
          "select table_name as t from information_schema.tables where table_schema = 'public' order by 1",
        )
      ).map((r) => r.t),
    records: () =>
      query<{ name: string; n: number }>('select name, count(*)::int as n from mig_migrations group by name'),
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

async function request(base: string, method: string, path: string, body?: string) {
  const t0 = performance.now();
  const response = await fetch(base + path, {
    method,
    body,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
  });
  const text = await response.text();
  return { status: response.status, body: text, ms: performance.now() - t0 };
}

/** Starts the API as its own process; resolves with its base URL once it listens. */
function startInstance(
  fresh: Fresh,
  env: Record<string, string | undefined>,
): Promise<{ base: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [serverScript], {
    env: {
      ...process.env,
      PORT: '0',
      DATABASE_URL: fresh.url ?? '',
      PGLITE_DATA_DIR: fresh.pgliteDir ?? '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { port?: number };
        if (entry.port) resolve({ base: `http://127.0.0.1:${entry.port}`, child, stop });
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`the API exited with ${code} before listening:\n${stderr}`)));
  });
}

async function main(): Promise<void> {
  out(`mig demo: an API that brings its own schema up to date, lazily, on first use.`);
  out(
    baseUrl
      ? `Database: DATABASE_URL (${baseUrl.replace(/:[^:@/]*@/, ':***@')}), a fresh database for each part.`
      : 'Database: embedded PostgreSQL (PGlite); set DATABASE_URL to use a server (or sqlite:FILE, libsql+file:FILE).',
  );

  // 1. Configuration, as the app resolves it at startup (lib/database.ts is mig's one call).
  const fresh = await freshDatabase();
  const env = { ...process.env, DATABASE_URL: fresh.url } as Record<string, string | undefined>;
  const trees: string[] = [];
  const telemetry = setupTelemetry({ console: (tree) => trees.push(tree) });
  const warnings: string[] = [];
  const logger = createLogger({ level: 'warn', write: (line) => warnings.push(line) });
  const database = createDatabase({
    env,
    logger,
    pgliteDir: fresh.pgliteDir,
    tracerProvider: telemetry.tracerProvider,
    meterProvider: telemetry.meterProvider,
  });
  const config = await database.configuration();
  step(1, `Configuration (NODE_ENV ${config.nodeEnv ? `"${config.nodeEnv}"` : 'unset'}: development defaults)`);
  const summary = summarizeConfig(config) as Record<string, { value: unknown; source: string }>;
  for (const key of ['databaseUrl', 'autoMigrate', 'lockTimeoutMs', 'cacheTtlMs', 'lockStrategy', 'dryRun']) {
    const entry = summary[key];
    if (entry)
      out(`   ${key.padEnd(14)} ${String(entry.value ?? '(embedded PGlite)').padEnd(40)} from ${entry.source}`);
  }

  // 2. The API starts; nothing touches the database until a request needs it.
  const app = createApp(database, { logger });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  step(2, `API listening on ${base}; database service state: ${database.state().phase} (nothing connected yet)`);

  // 3. The first request migrates, lazily; the trace shows where the time went.
  const first = await request(base, 'GET', '/todos');
  step(
    3,
    `First request: GET /todos -> ${first.status} in ${ms(first.ms)} ms. It connected, found 3 pending migrations and applied them:`,
  );
  out(indent(trees[0] ?? '(no trace)'));

  // 4. Later requests take the fast path.
  const N = 500;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await request(base, 'GET', '/todos');
  const perRequest = (performance.now() - t0) / N;
  const calls = 1_000_000;
  const t1 = performance.now();
  for (let i = 0; i < calls; i++) await database.ensureInitialized();
  const perCall = ((performance.now() - t1) * 1e6) / calls;
  const stats = database.report().cache;
  step(4, 'Later requests take the fast path:');
  out(`   ${N} more GET /todos: ${ms(perRequest)} ms each (HTTP round trip included), no status check among them`);
  out(
    `   ensureInitialized() once ready: ${perCall.toFixed(0)} ns per call (${calls.toLocaleString('en')} calls in this process)`,
  );
  out(`   status reads from the database so far: ${stats?.loads ?? 0}, all of them before the first response`);

  // 5. Input validation: bad input gets a 400 that says what was wrong.
  step(5, 'The todo resource validates its input:');
  for (const [body, label] of [
    ['{"title":"try mig"}', 'a todo'],
    ['{"title":""}', 'an empty title'],
    ['{"title": ', 'broken JSON'],
  ] as const) {
    const r = await request(base, 'POST', '/todos', body);
    const message = r.status === 201 ? r.body : (JSON.parse(r.body) as { message: string }).message;
    out(`   POST /todos with ${label.padEnd(14)} -> ${r.status} ${message}`);
  }

  // 6. What the service knows, without I/O.
  const migrations = JSON.parse((await request(base, 'GET', '/migrations')).body);
  const s = migrations.state;
  const c = migrations.cache;
  step(6, 'GET /migrations (state read without touching the database):');
  out(`   phase ${s.phase}, migrations ${s.migrations}, applied here: ${s.appliedHere.join(', ')}`);
  out(
    `   last check: from the ${s.lastCheck.source}, ${ms(s.lastCheck.durationMs)} ms; lock wait ${ms(s.lockWaitMs ?? 0)} ms`,
  );
  out(
    `   status cache: ${c.hits} hit(s), ${c.misses} miss(es) over the service's status checks; TTL ${migrations.config.cacheTtlMs.value / 1000} s`,
  );
  server.close();
  await database.close();
  await telemetry.shutdown();
  await fresh.drop();

  // 7. Production: nothing is applied unless AUTO_MIGRATE says so.
  const prod = await freshDatabase();
  const instance = await startInstance(prod, { NODE_ENV: 'production', AUTO_MIGRATE: '' });
  const health = await request(instance.base, 'GET', '/health');
  const prodState = JSON.parse((await request(instance.base, 'GET', '/migrations')).body).state;
  await instance.stop();
  const prodTables = await prod.tables();
  step(7, 'A production start (NODE_ENV=production, AUTO_MIGRATE unset) on a fresh database:');
  out(`   GET /health -> ${health.status} ${health.body}`);
  out(
    `   migrations ${prodState.migrations}: ${prodState.pending.length} pending, policy autoMigrate=${prodState.policy.autoMigrate}`,
  );
  out(
    `   tables created: ${prodTables.length === 0 ? 'none; nothing was applied (run `mig up` in the release step)' : prodTables.join(', ')}`,
  );
  await prod.drop();

  // 8. Eight instances at once: one migrates, the others wait for it and carry on.
  step(8, 'Eight instances starting at once on a fresh database:');
  if (!baseUrl) {
    out('   (runs with DATABASE_URL set: PGlite lives in one process, so there is nothing to race)');
  } else {
    const shared = await freshDatabase();
    const instances = await Promise.all(
      Array.from({ length: 8 }, (_, i) => startInstance(shared, { APP_NAME: `instance-${i + 1}` })),
    );
    const t2 = performance.now();
    await Promise.all(instances.map((i) => request(i.base, 'GET', '/todos')));
    const wall = performance.now() - t2;
    const states = await Promise.all(
      instances.map(async (i) => JSON.parse((await request(i.base, 'GET', '/migrations')).body).state),
    );
    await Promise.all(instances.map((i) => i.stop()));
    states.forEach((st, i) => {
      const did = st.appliedHere.length > 0 ? `applied ${st.appliedHere.length} migrations` : 'applied nothing';
      out(`   instance-${i + 1}: waited ${ms(st.lockWaitMs ?? 0).padStart(5)} ms for the lock, ${did}`);
    });
    const rows = await shared.records();
    const once = rows.every((r) => r.n === 1);
    out(
      `   all 8 ready in ${ms(wall)} ms; ${rows.length} migrations recorded, each ${once ? 'exactly once' : 'MORE THAN ONCE'}`,
    );
    await shared.drop();
    if (!once) throw new Error('a migration was applied more than once');
  }

  out(
    `\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s. Run the API with \`npm start\`; see README.md for the CLI.`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
