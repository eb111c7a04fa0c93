import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, portOpen } from './net.js';

const run = promisify(execFile);

/** A MariaDB server of its own, for a test that needs server settings the shared one must not have. */
export interface TempMariadb {
  readonly port: number;
  /** A connection string to `database` (default none) as root, no password. */
  url(database?: string): string;
  /** Everything the server has logged so far. */
  log(): Promise<string>;
  /** Stops the server at once and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway MariaDB (mariadb-install-db + mariadbd, Debian's package) on a free loopback port with
 * `settings` as `--name=value` options, in a temporary directory, root without a password. Throws, with the
 * server's log, if it cannot start: a test that needs it fails instead of skipping. Stop it in a `finally`.
 * Note MariaDB's floor: `max_connections` is at least 10 (and a root session may take one more).
 */
export async function startTempMariadb(settings: Readonly<Record<string, string | number>> = {}): Promise<TempMariadb> {
  const dir = await mkdtemp(join(tmpdir(), 'mig-temp-mariadb-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number((await run('id', ['-u', 'mysql'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'mysql'])).stdout.trim());
    await chown(dir, uid, gid);
  }
  const user = asRoot ? ['--user=mysql'] : [];
  const readLog = () => readFile(logFile, 'utf8').catch(() => '');
  let server: ChildProcess | undefined;
  try {
    await run(
      'mariadb-install-db',
      ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db'],
      { timeout: 120_000 },
    );
    const options = Object.entries({
      datadir: data,
      port,
      'bind-address': '127.0.0.1',
      socket: join(dir, 'mysqld.sock'),
      'pid-file': join(dir, 'mysqld.pid'),
      'log-error': logFile,
      'innodb-buffer-pool-size': '16M',
      ...settings,
    }).map(([name, value]) => `--${name}=${value}`);
    server = spawn('/usr/sbin/mariadbd', ['--no-defaults', ...options, ...user], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      if (server.exitCode !== null) throw new Error(`mariadbd exited with ${server.exitCode}`);
      if (await portOpen(port)) break;
      if (i > 600) throw new Error('mariadbd did not listen within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    server?.kill('SIGKILL');
    const log = await readLog();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`A temporary MariaDB server did not start: ${(error as Error).message}\n${log}`);
  }
  const child = server;
  let stopped: Promise<void> | undefined;
  return {
    port,
    url(database = '') {
      return `mysql://root@127.0.0.1:${port}/${database}`;
    },
    log: readLog,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
