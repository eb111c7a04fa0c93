import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MigrationFolder } from './migrations.js';

/** How the psql floor groups a folder's files: each in its own transaction, or all in one. */
export type PsqlGrouping = 'each' | 'all';

/**
 * One script that applies a folder of `.sql` migrations the way a person would with psql: each file's up
 * part (everything before `-- mig:down`) in its own `BEGIN … COMMIT`, or all of them in one. It records
 * nothing: it is the floor, what the server must do anyway. Written to a temporary folder of its own.
 */
export async function psqlScript(
  folder: MigrationFolder,
  grouping: PsqlGrouping,
): Promise<{ readonly path: string; dispose(): Promise<void> }> {
  const files = (await readdir(folder.dir)).filter((f) => f.endsWith('.sql')).sort();
  const parts: string[] = [];
  if (grouping === 'all') parts.push('BEGIN;');
  for (const file of files) {
    const text = await readFile(join(folder.dir, file), 'utf8');
    const up = text.split(/^-- mig:down.*$/m)[0] ?? text;
    parts.push(grouping === 'each' ? `BEGIN;\n${up}\nCOMMIT;` : up);
  }
  if (grouping === 'all') parts.push('COMMIT;');
  const dir = await mkdtemp(join(tmpdir(), 'mig-bench-psql-'));
  const path = join(dir, `apply-${grouping}.sql`);
  await writeFile(path, `${parts.join('\n')}\n`);
  return { path, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs psql on `url` with `args` (quiet, no ~/.psqlrc, stopping at the first error); rejects on failure. */
export function psql(url: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error) =>
      reject(new Error(`psql could not start (${error.message}); install the PostgreSQL client`)),
    );
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`psql exited with ${code}: ${stderr.trim()}`)),
    );
  });
}
