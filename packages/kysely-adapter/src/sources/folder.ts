import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { type Migration, type MigrationSource, MigrationSourceError } from '@mig/core';
import { computeChecksum, describeThrown, validateMigrations } from '@mig/core/adapter';
import type { MigrationDb } from '../db.js';
import { type SqlSplitter, splitStandardSql } from '../sql/statement.js';
import { importModule, once, sqlModule } from './modules.js';
import { parseSqlMigration } from './sql-file.js';

/** File extensions a migrations folder may hold. `.d.ts` files and dotfiles are ignored. */
export const MIGRATION_EXTENSIONS = ['.sql', '.ts', '.js', '.mjs'] as const;

export interface FolderSourceOptions {
  /** Resolve relative folders against this directory. Default: `process.cwd()`. */
  readonly cwd?: string | undefined;
  /**
   * How SQL files are split into statements: the engine's splitter (`adapter.splitter`), so dollar quotes,
   * DELIMITER lines and trigger bodies are read as the engine reads them. Default: standard SQL.
   */
  readonly splitter?: SqlSplitter | undefined;
}

/**
 * Migrations from a folder: `NAME.sql`, or `NAME.ts` / `NAME.js` / `NAME.mjs` exporting `up(db)` and
 * optionally `down(db)` and `transactional = false`. Sorted by name. Only names and checksums are read at
 * load; code is imported when a migration is about to run.
 *
 * @example
 * const source = createFolderSource('./migrations');
 */
export function createFolderSource(dir: string, options: FolderSourceOptions = {}): MigrationSource<MigrationDb> {
  const folder = resolve(options.cwd ?? process.cwd(), dir);
  const description = `folder ${relative(process.cwd(), folder) || '.'}`;
  return {
    description,
    async load() {
      const names = await listFolder(folder);
      const files = names.filter(isMigrationFile).sort();
      if (files.length === 0) {
        const others = names.filter((f) => !f.startsWith('.')).slice(0, 5);
        throw new MigrationSourceError(
          `No migrations in ${folder}: expected files ending in ${MIGRATION_EXTENSIONS.join(', ')}` +
            `${others.length > 0 ? ` (found ${others.join(', ')})` : ''}. Add one, e.g. 20260101000000_create_users.sql.`,
          { context: { folder, reason: 'empty-folder' } },
        );
      }
      assertUniqueStems(files, folder);
      const split = options.splitter ?? splitStandardSql;
      const migrations = await Promise.all(files.map((file) => fileMigration(join(folder, file), split)));
      return validateMigrations(migrations, description);
    },
  };
}

async function listFolder(folder: string): Promise<string[]> {
  try {
    const info = await stat(folder);
    if (!info.isDirectory()) {
      throw new MigrationSourceError(`The migrations path ${folder} is a file, not a folder. Point it at a folder.`, {
        context: { folder, reason: 'not-a-folder' },
      });
    }
    return await readdir(folder);
  } catch (error) {
    if (error instanceof MigrationSourceError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist. Create it, or point the source at the right folder'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read (permission denied). Fix its permissions'
          : `cannot be read: ${describeThrown(error)}`;
    throw new MigrationSourceError(`The migrations folder ${folder} ${why}.`, {
      cause: error,
      context: { folder, reason: code === 'ENOENT' ? 'missing-folder' : 'unreadable-folder' },
    });
  }
}

function isMigrationFile(file: string): boolean {
  if (file.startsWith('.') || file.endsWith('.d.ts')) return false;
  return (MIGRATION_EXTENSIONS as readonly string[]).includes(extname(file));
}

function stem(file: string): string {
  return file.slice(0, file.length - extname(file).length);
}

function assertUniqueStems(files: readonly string[], folder: string): void {
  const byStem = new Map<string, string[]>();
  for (const file of files) byStem.set(stem(file), [...(byStem.get(stem(file)) ?? []), file]);
  const clashes = [...byStem.values()].filter((group) => group.length > 1);
  if (clashes.length > 0) {
    throw new MigrationSourceError(
      `Two or more files in ${folder} have the same migration name: ${clashes.map((g) => g.join(' and ')).join('; ')}. ` +
        'A migration is named by its file name without the extension; keep one file per name.',
      { context: { folder, clashes: clashes.length } },
    );
  }
}

async function fileMigration(path: string, split: SqlSplitter): Promise<Migration<MigrationDb>> {
  let text: string;
  try {
    // Synchronous on purpose: hundreds of small files read one by one cost far less than as many
    // concurrent promises (measured in bench/), and this runs once, at the first check.
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MigrationSourceError(`Cannot read migration file ${path}: ${describeThrown(error)}.`, {
      cause: error,
      context: { file: path },
    });
  }
  const name = stem(basename(path));
  const checksum = computeChecksum(text);
  if (extname(path) === '.sql') {
    const parsed = parseSqlMigration(text);
    return {
      name,
      checksum,
      origin: path,
      sql: parsed.up.trim(),
      load: once(async () => sqlModule(name, path, parsed, split)),
    };
  }
  return { name, checksum, origin: path, load: once(() => importModule(name, path, checksum)) };
}
