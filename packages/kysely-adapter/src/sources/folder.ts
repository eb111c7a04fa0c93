import { type Dirent, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, relative, resolve } from 'node:path';
import { type Migration, type MigrationSource, MigrationSourceError } from '@mig/core';
import { computeChecksum, describeThrown, validateMigrations } from '@mig/core/adapter';
import type { MigrationDb } from '../db.js';
import { type SqlSplitter, splitStandardSql } from '../sql/statement.js';
import { type LayoutEntry, type LayoutName, type LayoutReading, MIGRATION_EXTENSIONS, readLayout } from './layouts.js';
import { importModule, once, sqlModule } from './modules.js';
import { parseDbmate, parseGoose } from './sql-dialects.js';
import { type ParsedSqlMigration, parseSqlMigration, withOwnTransaction } from './sql-file.js';

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
      const split = options.splitter ?? splitStandardSql;
      const migrations: Migration<MigrationDb>[] = [];
      for (const entry of layout.entries) {
        try {
          migrations.push(entryMigration(entry, text, split));
        } catch (error) {
          problems.push(
            error instanceof MigrationSourceError ? error.message : `${entry.path}: ${describeThrown(error)}`,
          );
        }
      }
      if (problems.length > 0) {
        throw new MigrationSourceError(
          `The migrations folder ${folder}, read as ${layout.label}, has ${problems.length} problem(s); nothing was run:\n` +
            problems.map((p) => `  - ${p}`).join('\n'),
          { context: { folder, layout: layout.layout, problems: problems.length } },
        );
      }
      read = layout;
      return validateMigrations(migrations, description, { ordered: layout.ordered });
    },
  };
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

function entryMigration(
  entry: LayoutEntry,
  text: (path: string) => string,
  split: SqlSplitter,
): Migration<MigrationDb> {
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
  const content = read(path);
  if (extname(path) !== '.sql') {
    const checksum = computeChecksum(content);
    return { name, checksum, origin: path, load: once(() => importModule(name, path, checksum)) };
  }
  const downText = entry.downPath === undefined ? undefined : read(entry.downPath);
  const parsed = parseEntry(entry, content, downText);
  // A separate down file is part of the migration's content: the checksum covers both.
  const checksum = computeChecksum(downText === undefined ? content : `${content}\n-- mig:down\n${downText}`);
  return {
    name,
    checksum,
    origin: path,
    sql: parsed.up.trim(),
    transaction: parsed.own ? 'own' : undefined,
    load: once(async () => sqlModule(name, path, parsed, split)),
  };
}

function parseEntry(entry: LayoutEntry, content: string, downText: string | undefined): ParsedSqlMigration {
  if (entry.dialect === 'goose' || entry.dialect === 'dbmate') {
    const parsed = entry.dialect === 'goose' ? parseGoose(content) : parseDbmate(content);
    if (parsed.problem !== undefined) {
      throw new MigrationSourceError(`${entry.path} ${parsed.problem}.`, { context: { file: entry.path } });
    }
    return withOwnTransaction(parsed);
  }
  const parsed = parseSqlMigration(content);
  return downText === undefined ? parsed : { ...parsed, down: downText };
}
