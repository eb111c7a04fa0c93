import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ResolvedConfig } from '@mig/config';
import { InvalidOptionError } from '@mig/core';
import { ExitCode } from '../exit-codes.js';
import type { Io, Output } from '../output.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$/;

/** UTC, to the second: files created on any machine sort in the order they were created. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function sqlTemplate(name: string): string {
  return [
    `-- ${name}`,
    // The folder source knows this line: a file that is still only the template is refused, not recorded.
    '-- Runs in one transaction, together with its record. To run it outside a transaction (for',
    '-- CREATE INDEX CONCURRENTLY), make "-- mig:no-transaction" the first line.',
    '',
    '',
    '-- mig:down',
    '-- Optional: what reverts it (used by `mig down`).',
    '',
  ].join('\n');
}

function tsTemplate(name: string): string {
  return [
    "import type { Kysely } from 'kysely';",
    '',
    '// Runs in one transaction, together with its record. `export const transactional = false` runs it',
    '// outside one (for CREATE INDEX CONCURRENTLY).',
    'export async function up(db: Kysely<any>): Promise<void> {',
    `  throw new Error('Write migration ${name} before applying it.');`,
    '}',
    '',
    '// Optional: what reverts it (used by `mig down`).',
    'export async function down(db: Kysely<any>): Promise<void> {}',
    '',
  ].join('\n');
}

/** `mig create NAME`: a new timestamped migration file with a template. */
export async function create(
  io: Io,
  config: ResolvedConfig,
  output: Output,
  name: string,
  kind: 'sql' | 'ts',
  now = new Date(),
): Promise<number> {
  if (!NAME.test(name)) {
    throw new InvalidOptionError(
      'name',
      `Invalid migration name ${JSON.stringify(name)}: use letters, digits, "_" and "-" (e.g. add_users_email).`,
    );
  }
  const dir = config.values.migrationsDir;
  const file = join(dir, `${timestamp(now)}_${name}.${kind}`);
  if (existsSync(file)) {
    throw new InvalidOptionError('name', `${file} already exists; wait a second or pick another name.`);
  }
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(file, kind === 'sql' ? sqlTemplate(name) : tsTemplate(name), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new InvalidOptionError('name', `${file} already exists; wait a second or pick another name.`);
  }
  output.result({ ok: true, exitCode: ExitCode.Ok, file }, () => `Created ${relative(io.cwd, file) || file}`);
  return ExitCode.Ok;
}
