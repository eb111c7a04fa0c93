import { InvalidOptionError } from '@mig/core';
import type { Dialect } from 'kysely';

export interface SqliteDialectOptions {
  /** The database file. */
  readonly path: string;
}

/** PLACEHOLDER: Kysely's SqliteDialect on better-sqlite3 (being written). */
export function createSqliteDialect(_options: SqliteDialectOptions): Dialect {
  throw new InvalidOptionError('url', 'SQLite is not written yet.');
}
