import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MigrationSourceError } from '@mig/core';
import { describeThrown, type MigrationModule, redactCredentials, sentence } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../db.js';
import type { SqlSplitter } from '../sql/statement.js';
import { type ParsedSqlMigration, statementTimeoutMs } from './sql-file.js';

// What a migration does when it runs, built from a SQL text (with the engine's splitter) or imported from a
// code module: the part of a source that knows how migrations are written, not where they come from.

/**
 * Imports a migration module. The checksum goes into the module URL (and jiti's cache is off), so the code
 * that runs is always the content that was checksummed, even if the file changed since an earlier import.
 */
export async function importModule(
  name: string,
  path: string,
  checksum: string,
): Promise<MigrationModule<MigrationDb>> {
  let loaded: Record<string, unknown>;
  try {
    if (['.ts', '.cts', '.mts'].includes(extname(path))) {
      const { createJiti } = await loadJiti(name, path);
      const jiti = createJiti(import.meta.url, { interopDefault: true, moduleCache: false });
      loaded = (await jiti.import(path)) as Record<string, unknown>;
    } else {
      loaded = (await import(`${pathToFileURL(path).href}?checksum=${checksum}`)) as Record<string, unknown>;
    }
  } catch (error) {
    if (error instanceof MigrationSourceError) throw error;
    throw new MigrationSourceError(
      `Cannot load migration "${name}" from ${path}: ${sentence(redactCredentials(describeThrown(error)))}`,
      { cause: error, context: { migration: name, file: path } },
    );
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
export function toModule(name: string, origin: string, loaded: Record<string, unknown>): MigrationModule<MigrationDb> {
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

export function sqlModule(
  name: string,
  origin: string,
  parsed: ParsedSqlMigration,
  split: SqlSplitter,
): MigrationModule<MigrationDb> {
  const { up, down, transactional, own } = parsed;
  // mig owns the transaction (the migration and its record commit together); a COMMIT in the file would
  // commit half of it and the record's guard with it. A file wrapped whole in its own BEGIN … COMMIT runs
  // as written instead, and is recorded after its commit.
  for (const [part, text] of [
    ['up', up],
    ['down', down ?? ''],
  ] as const) {
    if (BODY_WITH_SEMICOLONS.test(text)) continue;
    const statements = split(text);
    const inner = own && part === 'up' ? statements.slice(1, -1) : statements;
    const control = inner.find((s) => TRANSACTION_CONTROL.test(s.text))?.text;
    if (control && (transactional || own)) {
      throw new MigrationSourceError(
        `Migration "${name}" (${origin}) controls its own transaction in its ${part} part ("${control.slice(0, 40)}"). ` +
          'mig runs each migration in a transaction together with its record: remove BEGIN/COMMIT/ROLLBACK, ' +
          'wrap the whole part in one BEGIN; … COMMIT; of its own, ' +
          'or make "-- mig:no-transaction" the first line to run it statement by statement.',
        { context: { migration: name, file: origin } },
      );
    }
  }
  // A part that is only comments is a migration that does nothing: recorded, and not an error. Unless it is
  // still the template `mig create` wrote: that one was never written, and is not recorded as done.
  const upRuns = split(up).length > 0;
  if (!upRuns && UNWRITTEN_TEMPLATE.test(up)) {
    throw new MigrationSourceError(
      `Migration "${name}" (${origin}) contains no SQL statement. Write the migration, or delete the file.`,
      { context: { migration: name, file: origin } },
    );
  }
  const downRuns = down !== undefined && split(down).length > 0;
  const timeoutMs = parsed.statementTimeout === undefined ? undefined : statementTimeoutMs(parsed.statementTimeout);
  if (parsed.statementTimeout !== undefined && (timeoutMs === undefined || timeoutMs <= 0)) {
    throw new MigrationSourceError(
      `Migration "${name}" (${origin}): "-- mig:statement-timeout ${parsed.statementTimeout}" is not a duration; ` +
        'write one such as 1500ms, 30s, 5min or 1h.',
      { context: { migration: name, file: origin } },
    );
  }
  return {
    transactional,
    ...(timeoutMs === undefined ? {} : { statementTimeoutMs: timeoutMs }),
    up: upRuns ? sqlRunner(up, transactional, split) : noop,
    down: down === undefined ? undefined : downRuns ? sqlRunner(down, transactional, split) : noop,
    sql: upRuns ? { up, down: downRuns ? down : undefined } : undefined,
  };
}

async function noop(): Promise<void> {}

/** A line of the SQL template `mig create` writes (packages/cli, commands/create.ts). */
const UNWRITTEN_TEMPLATE = /^--\s*Runs in one transaction, together with its record\./m;

/** Statements that begin or end a transaction (savepoints are fine inside mig's transaction). */
const TRANSACTION_CONTROL = /^(begin|start\s+transaction|commit|end|rollback|abort)\b(?!\s+to\b)/i;
const OPENS = /^(begin|start\s+transaction)\b/i;
const CLOSES = /^(commit|end|rollback|abort)\b(?!\s+to\b)/i;

/**
 * In a transaction the script runs as one query (several statements are fine there). Outside one, each
 * statement runs on its own: a multi-statement query would be an implicit transaction, which
 * `CREATE INDEX CONCURRENTLY` refuses. When a statement fails inside a transaction the file opened itself,
 * that transaction is rolled back before the error goes on, so the connection is handed back clean.
 */
function sqlRunner(script: string, transactional: boolean, split: SqlSplitter): (db: MigrationDb) => Promise<void> {
  if (transactional) {
    return async (db) => {
      await sql.raw(script).execute(db);
    };
  }
  const statements = split(script);
  return async (db) => {
    let open = false;
    let done = 0;
    try {
      for (const statement of statements) {
        await sql.raw(statement.text).execute(db);
        if (OPENS.test(statement.text)) open = true;
        else if (CLOSES.test(statement.text)) open = false;
        done++;
      }
    } catch (error) {
      if (open) {
        await sql
          .raw('rollback')
          .execute(db)
          .catch(() => {});
        markRolledBack(error, done);
      }
      throw error;
    }
  };
}

/**
 * Tags an error of a statement that failed inside the file's own transaction, which mig rolled back: the
 * statements before it did not take effect, and the failure message must not say they remain.
 */
function markRolledBack(error: unknown, done: number): void {
  if (error !== null && typeof error === 'object') {
    try {
      Object.defineProperty(error, 'migRolledBack', { value: done, enumerable: false, configurable: true });
    } catch {
      // A frozen error keeps its message as it is.
    }
  }
}

/** Calls `fn` once, on the first call, and returns its promise every time. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}
