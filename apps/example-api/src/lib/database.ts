import type { Logger } from '@mig/core';
import { type CreateDatabaseOptions, createDatabase as createMigDatabase, type MigDatabase } from '@mig/service';
import type { Generated, Kysely } from 'kysely';
import { APP_DIR, DEFAULT_PGLITE_DIR } from './paths.js';

/** The app's tables, as its migrations create them. */
export interface Tables {
  todos: {
    /** A bigint: a string from PostgreSQL, a number from MySQL and SQLite. */
    id: Generated<string | number>;
    title: string;
    /** A boolean; 0 or 1 from MySQL and SQLite. */
    done: Generated<boolean | number>;
    /** A Date; ISO text from SQLite. */
    created_at: Generated<Date | string>;
  };
}

export type Db = Kysely<Tables>;
export type AppDatabase = MigDatabase<Tables>;

export interface DatabaseOptions
  extends Pick<
    CreateDatabaseOptions,
    'env' | 'overrides' | 'applicationName' | 'tracerProvider' | 'meterProvider' | 'migrations'
  > {
  readonly logger: Logger;
  /** Where PGlite keeps its data when DATABASE_URL is unset. Default `.data/pglite` in the app's folder. */
  readonly pgliteDir?: string | undefined;
}

/**
 * The `lib/database` module: mig's one call, with the app's folder for its config and migrations, and the
 * embedded PGlite when no DATABASE_URL is set.
 */
export function createDatabase(options: DatabaseOptions): AppDatabase {
  const { pgliteDir, ...rest } = options;
  const env = options.env ?? process.env;
  const migrationsDir = options.overrides?.migrationsDir ?? (env.MIGRATIONS_DIR || migrationsFor(env.DATABASE_URL));
  return createMigDatabase<Tables>({
    cwd: APP_DIR,
    defaultUrl: `pglite:${pgliteDir ?? DEFAULT_PGLITE_DIR}`,
    applicationName: 'example-api',
    ...rest,
    overrides: { ...options.overrides, ...(migrationsDir ? { migrationsDir } : {}) },
  });
}

/**
 * The app's migrations in each engine's SQL: `migrations` (PostgreSQL and PGlite), `migrations.mysql`
 * (MySQL, MariaDB), `migrations.sqlite` (SQLite, libSQL). A real service runs on one engine and keeps one folder.
 */
function migrationsFor(url: string | undefined): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url ?? '')?.[1]?.toLowerCase();
  if (scheme === 'mysql' || scheme === 'mariadb') return './migrations.mysql';
  if (scheme === 'sqlite' || scheme === 'file' || scheme?.startsWith('libsql')) return './migrations.sqlite';
  return undefined;
}
