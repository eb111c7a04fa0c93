import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidOptionError } from '@mig/core';
import type BetterSqlite3 from 'better-sqlite3';
import { SqliteDialect } from 'kysely';
import { brandAdapter } from '../../brand.js';
import { missingDriver } from '../../locations.js';

/** Default wait of a statement for another process's write lock on the file, ms. */
export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 5_000;

export interface SqliteDialectOptions {
  /** The database file (its folder is created when it is first written), or `:memory:`. */
  readonly path: string;
  /**
   * How long a statement waits for another process's lock on the file before it fails with SQLITE_BUSY,
   * ms. Default 5 s. better-sqlite3 waits synchronously: keep it short enough not to stall the process.
   */
  readonly busyTimeoutMs?: number | undefined;
  /**
   * Switches the file to write-ahead logging when it is first opened (default true), so readers (a status
   * check) never wait behind a migration that is writing. Leave it off for a file on a network share.
   */
  readonly wal?: boolean | undefined;
}

/** The slice of better-sqlite3's statement that Kysely's SqliteDriver uses. */
interface StatementLike {
  readonly reader: boolean;
  all(parameters: ReadonlyArray<unknown>): unknown[];
  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown>;
}

/** The slice of better-sqlite3's database that Kysely's SqliteDriver uses. */
interface DatabaseLike {
  prepare(sql: string): StatementLike;
  close(): void;
}

/**
 * Kysely's SqliteDialect on better-sqlite3, set up for several processes sharing one file: a busy timeout,
 * write-ahead logging, and a file opened only when the first query runs. Until something is written, a
 * file that does not exist is not created: reads (a status check, a dry run) see an empty database.
 *
 * @example
 * const db = new Kysely<DB>({ dialect: createSqliteDialect({ path: './data/app.db' }) });
 */
export function createSqliteDialect(options: SqliteDialectOptions): SqliteDialect {
  const settings = Object.freeze({
    path: options.path,
    busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    wal: options.wal ?? true,
  });
  if (!(settings.busyTimeoutMs >= 0)) {
    throw new InvalidOptionError(
      'busyTimeoutMs',
      `busyTimeoutMs must be a number of milliseconds, 0 or more, not ${String(options.busyTimeoutMs)}.`,
    );
  }
  return new BrandedSqliteDialect({
    database: async () => {
      const Database = await loadBetterSqlite3();
      return isMemory(settings.path) ? openFile(Database, settings) : new LazyFile(Database, settings);
    },
  });
}

type DatabaseClass = typeof BetterSqlite3;
type Database = BetterSqlite3.Database;

/**
 * The driver, loaded when the first query runs (never at import: a bundle that includes this module must
 * start without better-sqlite3 installed). `openDatabase` loads it up front, to say which package is missing.
 */
async function loadBetterSqlite3(): Promise<DatabaseClass> {
  const loaded = (await import('better-sqlite3').catch(missingDriver('better-sqlite3'))) as unknown as {
    default?: DatabaseClass;
  };
  return loaded.default ?? (loaded as unknown as DatabaseClass);
}

/** SQLite as mig reads it from the Kysely instance, with no doubt about the engine. */
class BrandedSqliteDialect extends SqliteDialect {
  override createAdapter() {
    return brandAdapter(super.createAdapter(), 'sqlite');
  }
}

type Settings = Required<SqliteDialectOptions>;

function isMemory(path: string): boolean {
  return path === ':memory:' || path === '';
}

/** Opens the file (creating its folder), with the busy timeout and, where asked, write-ahead logging. */
function openFile(Database: DatabaseClass, settings: Settings): Database {
  const memory = isMemory(settings.path);
  if (!memory) mkdirSync(dirname(resolve(settings.path)), { recursive: true });
  const db = new Database(settings.path, { timeout: settings.busyTimeoutMs });
  db.pragma(`busy_timeout = ${Math.round(settings.busyTimeoutMs)}`);
  if (!memory && settings.wal) useWal(db);
  return db;
}

/**
 * Switches to write-ahead logging, once per file (the mode is kept in the file). Another process holding
 * the file at that moment may refuse it; the file then stays in its journal mode, which works too, and a
 * later opening tries again.
 */
function useWal(db: Database): void {
  try {
    if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') db.pragma('journal_mode = WAL');
  } catch {
    // Busy: another process has the file; its rollback journal serves as well.
  }
}

/**
 * The file, opened when something needs it. While the file does not exist, statements that only read run
 * against an empty in-memory database (mig's tables do not exist there, as they do not in the file); the
 * first statement that writes, or a PRAGMA, opens (and creates) the file, and so does a read once another
 * process has created it.
 */
class LazyFile implements DatabaseLike {
  readonly #Database: DatabaseClass;
  readonly #settings: Settings;
  #file: Database | undefined;
  #stand: Database | undefined;

  constructor(DatabaseClass: DatabaseClass, settings: Settings) {
    this.#Database = DatabaseClass;
    this.#settings = settings;
    if (existsSync(settings.path)) this.#file = openFile(DatabaseClass, settings);
  }

  prepare(sql: string): StatementLike {
    if (this.#file) return this.#file.prepare(sql);
    if (existsSync(this.#settings.path)) return this.#open().prepare(sql);
    this.#stand ??= new this.#Database(':memory:');
    const statement = this.#stand.prepare(sql);
    if (statement.reader && !/^\s*pragma\b/i.test(sql)) return statement;
    return this.#open().prepare(sql);
  }

  close(): void {
    this.#stand?.close();
    this.#file?.close();
  }

  #open(): Database {
    this.#file ??= openFile(this.#Database, this.#settings);
    this.#stand?.close();
    this.#stand = undefined;
    return this.#file;
  }
}
