import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PgBouncerOptions {
  /** The PostgreSQL server to pool, as a connection string; its host, port and user are used (trust auth). */
  readonly upstream: string;
  readonly poolMode: 'transaction' | 'session';
  /** Server connections per database. */
  readonly poolSize: number;
  /** Client connections PgBouncer accepts in all; 500 unless given. */
  readonly maxClients?: number;
}

/** What PgBouncer counted for one database since it started (its `SHOW STATS` row). */
export interface PgBouncerStats {
  readonly transactions: number;
  readonly queries: number;
  /** Time clients spent waiting for a server connection, ms. */
  readonly waitMs: number;
}

export interface PgBouncer {
  readonly port: number;
  /** A connection string to `database` through the pooler. */
  url(database: string): string;
  stats(database: string): Promise<PgBouncerStats>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`PgBouncer exited with ${child.exitCode}:\n${output()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`PgBouncer did not listen on port ${port}:\n${output()}`);
}

function config(options: PgBouncerOptions, upstream: URL, user: string, port: number, dir: string): string {
  return [
    '[databases]',
    `* = host=${upstream.hostname} port=${upstream.port || '5432'}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'userlist.txt')}`,
    // The admin console answers `SHOW STATS` for this user.
    `admin_users = ${user}`,
    `pool_mode = ${options.poolMode}`,
    `default_pool_size = ${options.poolSize}`,
    `max_client_conn = ${options.maxClients ?? 500}`,
    'ignore_startup_parameters = extra_float_digits',
    '',
  ].join('\n');
}

/**
 * Starts a real PgBouncer (Debian's package) on a free loopback port in front of `options.upstream`, every
 * database behind it. Throws when PgBouncer is not installed: a test or benchmark that needs it fails rather
 * than skip.
 *
 * @example
 * const bouncer = await startPgBouncer({ upstream: 'postgres://postgres@127.0.0.1:5432/postgres', poolMode: 'transaction', poolSize: 4 });
 * try { await useDatabase(bouncer.url('app')); } finally { await bouncer.stop(); }
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const binary = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find(
    (path) => spawnSync(path, ['--version']).status === 0,
  );
  if (!binary) {
    throw new Error(
      'PgBouncer is not installed; install it with `apt-get install -y pgbouncer` (.ci/run does, and `npm test` as root).',
    );
  }
  const upstream = new URL(options.upstream);
  const user = decodeURIComponent(upstream.username || 'postgres');
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'mig-pgbouncer-'));
  // PgBouncer refuses to run as root and then runs as postgres, who must read its files.
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  const ini = join(dir, 'pgbouncer.ini');
  await writeFile(ini, config(options, upstream, user, port, dir));
  const child = spawn(binary, process.getuid?.() === 0 ? ['-u', 'postgres', ini] : [ini], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  try {
    await listening(port, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const url = (database: string) => {
    const u = new URL(options.upstream);
    u.port = String(port);
    u.pathname = `/${database}`;
    return u.toString();
  };
  return {
    port,
    url,
    async stats(database) {
      // The admin console speaks the simple query protocol only: a query without parameters.
      const client = new pg.Client({ connectionString: url('pgbouncer') });
      await client.connect();
      try {
        const { rows } = await client.query<Record<string, string>>('SHOW STATS');
        const row = rows.find((r) => r.database === database);
        return {
          transactions: Number(row?.total_xact_count ?? 0),
          queries: Number(row?.total_query_count ?? 0),
          waitMs: Number(row?.total_wait_time ?? 0) / 1000,
        };
      } finally {
        await client.end().catch(() => {});
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
