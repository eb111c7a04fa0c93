import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const run = promisify(execFile);

/** A PostgreSQL server of its own, for a test that needs server settings the shared one must not have. */
export interface TempPostgres {
  readonly port: number;
  /** A connection string to `database` (default `postgres`) as the superuser `postgres`, trust auth. */
  url(database?: string): string;
  /** Everything the server has logged so far. */
  log(): Promise<string>;
  /** Stops the server at once and removes its data directory. */
  stop(): Promise<void>;
}

/** The newest PostgreSQL server binaries installed (Debian layout), or MIG_TEST_PG_BIN. */
async function serverBinaries(): Promise<string> {
  const fromEnv = process.env.MIG_TEST_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? (await readdir(root)).filter((v) => /^\d+$/.test(v)) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a)).find((v) => existsSync(join(root, v, 'bin', 'initdb')));
  if (newest === undefined) {
    throw new Error(
      `No PostgreSQL server binaries (initdb, pg_ctl) under ${root}: install the server package or set MIG_TEST_PG_BIN.`,
    );
  }
  return join(root, newest, 'bin');
}

/** initdb and the server refuse to run as root: run them as `postgres` then, owning the directory. */
async function asServerUser(dir: string): Promise<(binary: string, args: readonly string[]) => Promise<string>> {
  if (process.getuid?.() !== 0) {
    return async (binary, args) => (await run(binary, args, { timeout: 60_000 })).stdout;
  }
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  return async (binary, args) =>
    (await run('runuser', ['-u', 'postgres', '--', binary, ...args], { timeout: 60_000 })).stdout;
}

/**
 * Starts a throwaway PostgreSQL server (initdb + pg_ctl) on a free loopback port with `settings` given as
 * `-c name=value`, in a temporary directory. Throws, with the server's log, if it cannot start: a test that
 * needs it fails instead of skipping. Stop it in a `finally` (or `afterAll`).
 */
export async function startTempPostgres(
  settings: Readonly<Record<string, string | number>> = {},
): Promise<TempPostgres> {
  const bin = await serverBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'mig-temp-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const exec = await asServerUser(dir);
  const readLog = () => readFile(logFile, 'utf8').catch(() => '');
  const options = Object.entries({
    port,
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    fsync: 'off',
    full_page_writes: 'off',
    ...settings,
  }).map(([name, value]) => `-c ${name}=${value}`);
  try {
    await exec(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await exec(join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', options.join(' '), 'start']);
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string; message: string };
    const log = await readLog();
    await rm(dir, { recursive: true, force: true });
    throw new Error(
      `A temporary PostgreSQL server (${bin}) did not start: ${output.message}\n${output.stdout ?? ''}${output.stderr ?? ''}\n${log}`,
    );
  }
  let stopped: Promise<void> | undefined;
  return {
    port,
    url(database = 'postgres') {
      return `postgres://postgres@127.0.0.1:${port}/${database}`;
    },
    log: readLog,
    stop() {
      stopped ??= (async () => {
        await exec(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => '');
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
