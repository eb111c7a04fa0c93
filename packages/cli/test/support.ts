import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ProcessResult, runNode, startNode } from '../../../test/support/processes.js';

export const CLI = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

export interface Workspace {
  readonly dir: string;
  readonly migrations: string;
  write(file: string, content: string): Promise<void>;
  dispose(): Promise<void>;
}

/** A project folder with a migrations folder, as an operator's checkout would have. */
export async function workspace(files: Record<string, string>): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'mig-cli-'));
  const migrations = join(dir, 'migrations');
  const ws: Workspace = {
    dir,
    migrations,
    write: (file, content) => writeFile(join(migrations, file), content),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
  await (await import('node:fs/promises')).mkdir(migrations);
  for (const [file, content] of Object.entries(files)) await ws.write(file, content);
  return ws;
}

export interface CliResult extends ProcessResult {
  /** stdout parsed as JSON (for --json runs). */
  json(): any;
}

/** Runs the built `mig` as a real process, in `cwd`, with a clean environment plus `env`. */
export async function mig(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  const result = await runNode(CLI, args, {
    cwd: options.cwd,
    env: {
      NODE_ENV: '',
      DATABASE_URL: '',
      AUTO_MIGRATE: '',
      MIGRATIONS_DIR: '',
      MIGRATION_LOCK_TIMEOUT: '',
      MIGRATION_LOCK_STRATEGY: '',
      MIGRATION_DRY_RUN: '',
      MIGRATION_CACHE_TTL: '',
      NO_COLOR: '1',
      ...options.env,
    },
    timeoutMs: 60_000,
  });
  return {
    ...result,
    json() {
      try {
        return JSON.parse(result.stdout);
      } catch {
        throw new Error(`stdout is not one JSON document:\n${result.stdout}\nstderr:\n${result.stderr}`);
      }
    },
  };
}

export { startNode };
