import { type Dirent, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, relative, resolve } from 'node:path';
import { type Migration, type MigrationSource, MigrationSourceError } from '@mig/core';
import { computeChecksum, describeThrown, validateMigrations } from '@mig/core/adapter';
import type { MigrationDb } from '../db.js';
import { type SqlSplitter, splitStandardSql } from '../sql/statement.js';
import { codeMigration, type SqlContent, sqlMigration } from './entry.js';
import { type LayoutEntry, type LayoutName, type LayoutReading, MIGRATION_EXTENSIONS, readLayout } from './layouts.js';
import { importModule } from './modules.js';

export { MIGRATION_EXTENSIONS } from './layouts.js';

export interface FolderSourceOptions {
  /** Resolve relative folders against this directory. Default: `process.cwd()`. */
  readonly cwd?: string | undefined;
  /**
   * How SQL files are split into statements: the engine's splitter (`adapter.splitter`), so dollar quotes,
   * DELIMITER lines and trigger bodies are read as the engine reads them. Default: standard SQL.
   */
  readonly splitter?: SqlSplitter | undefined;
}

/** A folder source, which also says which layout it read (after its first `load()`). */
export interface FolderSource extends MigrationSource<MigrationDb> {
  /** The layout read: "mig", "prisma", "drizzle", "drizzle-folders", "golang-migrate", "diesel", "goose", "dbmate", "flyway". */
  readonly layout: LayoutName | undefined;
  /** Files the layout's own tool would not run either (e.g. a .sql file a Drizzle journal does not list). */
  readonly notices: readonly string[];
}

/**
 * Migrations from a folder, in the layout it is written in: mig's own (`NAME.sql`, or `NAME.ts` / `.js` /
 * `.mjs` / `.cjs` / `.cts` exporting `up(db)`, optionally `down(db)` and `transactional = false`, sorted by
 * name), Prisma's and drizzle-kit 1.0's `<timestamp>_<name>/migration.sql` folders, a Drizzle journal,
 * golang-migrate's and diesel's up/down pairs, goose's and dbmate's annotated files, or Flyway's versioned
 * files, each in the order its tool runs them. Only names and checksums are read at load; code is imported
 * when a migration is about to run. Every problem across the files is reported in one error.
 *
 * @example
 * const source = createFolderSource('./migrations');
 */
export function createFolderSource(dir: string, options: FolderSourceOptions = {}): FolderSource {
  const folder = resolve(options.cwd ?? process.cwd(), dir);
  const description = `folder ${relative(process.cwd(), folder) || '.'}`;
  let read: LayoutReading | undefined;
  return {
    description,
    get layout() {
      return read?.layout;
    },
    get notices() {
      return read?.notices ?? [];
    },
    async load() {
      const { reading, items } = await readMigrationsFolder(folder, options.splitter ?? splitStandardSql);
      read = reading;
      return validateMigrations(
        items.map((item) => item.migration),
        description,
        { ordered: reading.ordered },
      );
    },
  };
}

/** One migration of a folder: where it is, what it holds, and the migration built from it. */
export interface FolderMigration {
  readonly entry: LayoutEntry;
  /** A SQL migration's texts, or a code migration's checksum (of the module file's text). */
  readonly content: SqlContent | { readonly name: string; readonly checksum: string };
  readonly migration: Migration<MigrationDb>;
}

/**
 * Reads a migrations folder as its layout says, each migration's content with it; every problem across the
 * files is reported in one error. The folder source and `mig bundle` both read a folder through this.
 */
export async function readMigrationsFolder(
  folder: string,
  split: SqlSplitter = splitStandardSql,
): Promise<{ readonly reading: LayoutReading; readonly items: readonly FolderMigration[] }> {
  const listing = await listFolder(folder);
  const texts = new Map<string, string>();
  const problems: string[] = [];
  const text = (path: string): string => {
    let content = texts.get(path);
    if (content === undefined) {
      // Synchronous on purpose: hundreds of small files read one by one cost far less than as many
      // concurrent promises (measured in bench/), and this runs once, at the first check.
      content = readFileSync(path, 'utf8');
      texts.set(path, content);
    }
    return content;
  };
  // Reading the layout only peeks at the files; a file that cannot be read is reported below, by name.
  const peek = (path: string): string => {
    try {
      return text(path);
    } catch {
      return '';
    }
  };
  const layout = readLayout(folder, listing, peek);
  problems.push(...layout.problems);
  if (layout.layout === 'mig') problems.push(...sameStems(layout.entries));
  if (layout.entries.length === 0 && problems.length === 0) {
    const others = listing
      .map((d) => d.name)
      .filter((f) => !f.startsWith('.'))
      .slice(0, 5);
    throw new MigrationSourceError(
      `No migrations in ${folder}: expected files ending in ${MIGRATION_EXTENSIONS.join(', ')}, or the folders ` +
        `of Prisma, Drizzle, golang-migrate, goose, dbmate or Flyway${others.length > 0 ? ` (found ${others.join(', ')})` : ''}. ` +
        'Add one, e.g. 20260101000000_create_users.sql.',
      { context: { folder, reason: 'empty-folder' } },
    );
  }
  const items: FolderMigration[] = [];
  for (const entry of layout.entries) {
    try {
      items.push(entryMigration(entry, text, split));
    } catch (error) {
      problems.push(error instanceof MigrationSourceError ? error.message : `${entry.path}: ${describeThrown(error)}`);
    }
  }
  if (problems.length > 0) {
    throw new MigrationSourceError(
      `The migrations folder ${folder}, read as ${layout.label}, has ${problems.length} problem(s); nothing was run:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
      { context: { folder, layout: layout.layout, problems: problems.length } },
    );
  }
  return { reading: layout, items };
}

async function listFolder(folder: string): Promise<Dirent[]> {
  try {
    const info = await stat(folder);
    if (!info.isDirectory()) {
      throw new MigrationSourceError(`The migrations path ${folder} is a file, not a folder. Point it at a folder.`, {
        context: { folder, reason: 'not-a-folder' },
      });
    }
    return await readdir(folder, { withFileTypes: true });
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

function sameStems(entries: readonly LayoutEntry[]): string[] {
  const byName = new Map<string, string[]>();
  for (const e of entries) byName.set(e.name, [...(byName.get(e.name) ?? []), basename(e.path)]);
  return [...byName.values()]
    .filter((group) => group.length > 1)
    .map(
      (group) =>
        `${group.join(' and ')} have the same migration name; a migration is named by its file name without the extension: keep one file per name`,
    );
}

function entryMigration(entry: LayoutEntry, text: (path: string) => string, split: SqlSplitter): FolderMigration {
  const read = (path: string): string => {
    try {
      return text(path);
    } catch (error) {
      throw new MigrationSourceError(`Cannot read migration file ${path}: ${describeThrown(error)}.`, {
        cause: error,
        context: { file: path },
      });
    }
  };
  const { name, path } = entry;
  const sql = read(path);
  if (extname(path) !== '.sql') {
    // A code migration's checksum is of its module file's text.
    const checksum = computeChecksum(sql);
    const migration = codeMigration(name, path, checksum, () => importModule(name, path, checksum));
    return { entry, content: { name, checksum }, migration };
  }
  const down = entry.downPath === undefined ? undefined : read(entry.downPath);
  const dialect = entry.dialect === 'mig' ? undefined : entry.dialect;
  const content: SqlContent = { name, sql, ...(down === undefined ? {} : { down }), ...(dialect ? { dialect } : {}) };
  return { entry, content, migration: sqlMigration(content, path, split) };
}
