import type { Logger } from '@mig/core';
import { type CreateDatabaseOptions, createDatabase as createMigDatabase, type MigDatabase } from '@mig/service';
import type { Generated, Kysely } from 'kysely';
import { APP_DIR, DEFAULT_PGLITE_DIR } from './paths.js';

/** The app's tables, as its migrations create them. */
export interface Tables {
  todos: {
    id: Generated<string>;
    title: string;
    done: Generated<boolean>;
    created_at: Generated<Date>;
  };
}

export type Db = Kysely<Tables>;
export type AppDatabase = MigDatabase<Tables>;

export interface DatabaseOptions
  extends Pick<CreateDatabaseOptions, 'env' | 'overrides' | 'applicationName' | 'tracerProvider' | 'meterProvider'> {
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
  return createMigDatabase<Tables>({
    cwd: APP_DIR,
    defaultUrl: `pglite:${pgliteDir ?? DEFAULT_PGLITE_DIR}`,
    applicationName: 'example-api',
    ...rest,
  });
}
