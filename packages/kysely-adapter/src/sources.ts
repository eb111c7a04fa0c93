import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Migration, type MigrationModule, type MigrationSource, MigrationSourceError } from '@mig/core';
import { computeChecksum, describeThrown, validateMigrations } from '@mig/core/adapter';
import { type Kysely, sql } from 'kysely';
import { splitSqlStatements } from './internal/split-sql.js';
import { parseSqlMigration } from './internal/sql-file.js';

// biome-ignore lint/suspicious/noExplicitAny: migrations work on any schema, as Kysely's own do.
export type MigrationDb = Kysely<any>;

/** File extensions a migrations folder may hold. `.d.ts` files and dotfiles are ignored. */
export const MIGRATION_EXTENSIONS = ['.sql', '.ts', '.js', '.mjs'] as const;

export interface FolderSourceOptions {
  /** Resolve relative folders against this directory. Default: `process.cwd()`. */
  readonly cwd?: string | undefined;
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
      const migrations = await Promise.all(files.map((file) => fileMigration(join(folder, file))));
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

async function fileMigration(path: string): Promise<Migration<MigrationDb>> {
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
      load: once(async () => sqlModule(name, path, parsed.up, parsed.down, parsed.transactional)),
    };
  }
  return { name, checksum, origin: path, load: once(() => importModule(name, path, checksum)) };
}

/**
 * Imports a migration module. The checksum goes into the module URL (and jiti's cache is off), so the code
 * that runs is always the content that was checksummed, even if the file changed since an earlier import.
 */
async function importModule(name: string, path: string, checksum: string): Promise<MigrationModule<MigrationDb>> {
  let loaded: Record<string, unknown>;
  try {
    if (extname(path) === '.ts') {
      const { createJiti } = await loadJiti(name, path);
      const jiti = createJiti(import.meta.url, { interopDefault: true, moduleCache: false });
      loaded = (await jiti.import(path)) as Record<string, unknown>;
    } else {
      loaded = (await import(`${pathToFileURL(path).href}?checksum=${checksum}`)) as Record<string, unknown>;
    }
  } catch (error) {
    if (error instanceof MigrationSourceError) throw error;
    throw new MigrationSourceError(`Cannot load migration "${name}" from ${path}: ${describeThrown(error)}.`, {
      cause: error,
      context: { migration: name, file: path },
    });
  }
  return toModule(name, path, loaded);
}

/**
 * jiti is an optional peer dependency: only `.ts` migrations need it, so it is imported when the first one is
 * about to run, and a missing jiti is an error that names the package to install.
 */
async function loadJiti(name: string, path: string): Promise<typeof import('jiti')> {
  try {
    return await import('jiti');
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    if (!missing || !String(message).includes("'jiti'")) throw error;
    throw new MigrationSourceError(
      `Migration "${name}" (${path}) is TypeScript, which needs the package "jiti" to load, and it is not ` +
        'installed. Install it (npm install jiti) and run again, or write the migration as .js or .sql.',
      { cause: error, context: { migration: name, file: path, package: 'jiti' } },
    );
  }
}

/** Accepts named exports (`up`, `down`, `transactional`) or a default export object with the same keys. */
function toModule(name: string, origin: string, loaded: Record<string, unknown>): MigrationModule<MigrationDb> {
  const fallback = loaded.default;
  const source =
    typeof loaded.up !== 'function' && fallback !== null && typeof fallback === 'object'
      ? (fallback as Record<string, unknown>)
      : loaded;
  const { up, down, transactional } = source;
  const problems: string[] = [];
  if (typeof up !== 'function') {
    problems.push(`exports no up function (found ${up === undefined ? 'nothing' : typeof up} for "up")`);
  }
  if (down !== undefined && typeof down !== 'function')
    problems.push(`exports a "down" that is a ${typeof down}, not a function`);
  if (transactional !== undefined && typeof transactional !== 'boolean') {
    problems.push(`exports "transactional" as a ${typeof transactional}; use true or false`);
  }
  if (problems.length > 0) {
    throw new MigrationSourceError(
      `Migration "${name}" (${origin}) ${problems.join('; ')}. Export \`async function up(db) { … }\`, as Kysely migrations do.`,
      { context: { migration: name, file: origin } },
    );
  }
  return {
    transactional: transactional !== false,
    up: up as MigrationModule<MigrationDb>['up'],
    down: down as MigrationModule<MigrationDb>['down'],
  };
}

/**
 * Bodies with semicolons of their own, whose BEGIN and END the splitter would take for transaction control:
 * SQL-standard function bodies (BEGIN ATOMIC, and MariaDB's BEGIN NOT ATOMIC), triggers, routines and events
 * (SQLite's and MySQL's BEGIN … END), and a file that sets its own DELIMITER (as the mysql client reads it).
 */
const BODY_WITH_SEMICOLONS =
  /\bbegin\s+(?:not\s+)?atomic\b|\bcreate\s+(?:or\s+replace\s+)?(?:definer\s*=\s*\S+\s+)?(?:temp(?:orary)?\s+)?(?:trigger|procedure|function|event)\b|^\s*delimiter\s/im;

function sqlModule(
  name: string,
  origin: string,
  up: string,
  down: string | undefined,
  transactional: boolean,
): MigrationModule<MigrationDb> {
  const statements = splitSqlStatements(up);
  if (statements.length === 0) {
    throw new MigrationSourceError(
      `Migration "${name}" (${origin}) contains no SQL statement. Write the migration, or delete the file.`,
      { context: { migration: name, file: origin } },
    );
  }
  // mig owns the transaction (the migration and its record commit together); a COMMIT in the file would
  // commit half of it and the record's guard with it.
  for (const [part, text] of [
    ['up', up],
    ['down', down ?? ''],
  ] as const) {
    const control = BODY_WITH_SEMICOLONS.test(text)
      ? undefined
      : splitSqlStatements(text).find((s) => TRANSACTION_CONTROL.test(s));
    if (control && transactional) {
      throw new MigrationSourceError(
        `Migration "${name}" (${origin}) controls its own transaction in its ${part} part ("${control.slice(0, 40)}"). ` +
          'mig runs each migration in a transaction together with its record: remove BEGIN/COMMIT/ROLLBACK, ' +
          'or make "-- mig:no-transaction" the first line to run it statement by statement.',
        { context: { migration: name, file: origin } },
      );
    }
  }
  const hasDown = down !== undefined && splitSqlStatements(down).length > 0;
  return {
    transactional,
    up: sqlRunner(up, transactional),
    down: hasDown ? sqlRunner(down, transactional) : undefined,
    sql: { up, down: hasDown ? down : undefined },
  };
}

/** Statements that begin or end a transaction (savepoints are fine inside mig's transaction). */
const TRANSACTION_CONTROL = /^(begin|start\s+transaction|commit|end|rollback|abort)\b(?!\s+to\b)/i;

/**
 * In a transaction the script runs as one query (several statements are fine there). Outside one, each
 * statement runs on its own: a multi-statement query would be an implicit transaction, which
 * `CREATE INDEX CONCURRENTLY` refuses.
 */
function sqlRunner(script: string, transactional: boolean): (db: MigrationDb) => Promise<void> {
  if (transactional) {
    return async (db) => {
      await sql.raw(script).execute(db);
    };
  }
  const statements = splitSqlStatements(script);
  return async (db) => {
    for (const statement of statements) await sql.raw(statement).execute(db);
  };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}

/** A migration written in code, for bundled builds that have no migrations folder at run time. */
export type InlineMigration =
  | {
      readonly name: string;
      /** SQL to apply; `-- mig:no-transaction` and `-- mig:down` work as in files. */
      readonly sql: string;
    }
  | {
      readonly name: string;
      readonly up: (db: MigrationDb) => Promise<void>;
      readonly down?: ((db: MigrationDb) => Promise<void>) | undefined;
      readonly transactional?: boolean | undefined;
      /**
       * The content checksum. Default: computed from the functions' source text, which a bundler or
       * minifier may change between builds; pass the checksum (or use `sql`) to keep it stable.
       */
      readonly checksum?: string | undefined;
    };

/**
 * Migrations from an in-code list, for serverless bundles with no folder at run time.
 *
 * @example
 * const source = createListSource([
 *   { name: '001_todos', sql: 'create table todos (id serial primary key, title text not null)' },
 *   { name: '002_done', up: async (db) => { await db.schema.alterTable('todos').addColumn('done', 'boolean').execute(); } },
 * ]);
 */
export function createListSource(
  list: readonly InlineMigration[],
  options: { readonly description?: string } = {},
): MigrationSource<MigrationDb> {
  const description = options.description ?? 'in-code migration list';
  return {
    description,
    async load() {
      if (!Array.isArray(list) || list.length === 0) {
        throw new MigrationSourceError(`The ${description} is empty: pass at least one migration.`);
      }
      const migrations = list.map((entry, index): Migration<MigrationDb> => {
        const origin = `${description}[${index}]`;
        if (entry === null || typeof entry !== 'object' || typeof entry.name !== 'string') {
          throw new MigrationSourceError(
            `Entry ${index} of the ${description} has no name; give each migration a name.`,
          );
        }
        if ('sql' in entry) {
          if (typeof entry.sql !== 'string') {
            throw new MigrationSourceError(`Migration "${entry.name}" (${origin}): "sql" must be a string.`);
          }
          const parsed = parseSqlMigration(entry.sql);
          return {
            name: entry.name,
            checksum: computeChecksum(entry.sql),
            origin,
            sql: parsed.up.trim(),
            load: once(async () => sqlModule(entry.name, origin, parsed.up, parsed.down, parsed.transactional)),
          };
        }
        const code = entry as Record<string, unknown>;
        const fnText = `${String(code.up)}\n${String(code.down ?? '')}`;
        return {
          name: entry.name,
          checksum: typeof entry.checksum === 'string' ? entry.checksum : computeChecksum(fnText),
          origin,
          load: once(async () => toModule(entry.name, origin, code)),
        };
      });
      return validateMigrations(migrations, description);
    },
  };
}
