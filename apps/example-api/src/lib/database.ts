import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import { createStatusCache, type MigStatusCache } from '@mig/cache';
import type { ResolvedConfig } from '@mig/config';
import {
  createDatabaseService,
  createMigrator,
  type DatabaseService,
  type Logger,
  type MigrationStatus,
  type ServiceState,
} from '@mig/core';
import { createFolderSource, createKyselyAdapter, describeConnection, type Engine } from '@mig/kysely-adapter';
import { createPgDialect } from '@mig/kysely-adapter/pg';
import { PGliteDialect } from '@mig/kysely-adapter/pglite';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { type Generated, Kysely, sql } from 'kysely';
import { DEFAULT_PGLITE_DIR } from './paths.js';

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

export interface DatabaseOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** Where PGlite keeps its data when no DATABASE_URL is set. */
  readonly pgliteDir?: string | undefined;
  readonly applicationName?: string | undefined;
  readonly tracerProvider?: TracerProvider | undefined;
  readonly meterProvider?: MeterProvider | undefined;
}

/** The app's database: the Kysely instance behind a mig database service. */
export interface AppDatabase {
  /** Read by mig from the Kysely instance: PGlite without DATABASE_URL, PostgreSQL with it. */
  readonly engine: Engine;
  /** Where it connects, without secrets. */
  readonly where: string;
  readonly service: DatabaseService<Db>;
  readonly cache: MigStatusCache<MigrationStatus>;
  /** Connects and migrates once; afterwards answers at once. Use it before every query. */
  ensureInitialized(): Promise<Db>;
  state(): ServiceState;
  close(): Promise<void>;
}

/**
 * The `lib/database` module: one mig database service built from the packages and the app's configuration
 * (DATABASE_URL, AUTO_MIGRATE, … through @mig/config). Without DATABASE_URL it runs on PGlite, with its
 * data kept between runs.
 */
export function createDatabase(options: DatabaseOptions): AppDatabase {
  const { values } = options.config;
  const telemetry = { tracerProvider: options.tracerProvider, meterProvider: options.meterProvider };
  const url = values.databaseUrl;
  const pgliteDir = options.pgliteDir ?? DEFAULT_PGLITE_DIR;
  const target = url ? describeConnection(url) : { system: 'postgresql', namespace: 'pglite', server: 'embedded' };
  const db: Db = new Kysely<Tables>({
    dialect: url
      ? createPgDialect({
          url,
          applicationName: options.applicationName ?? 'example-api',
          onConnectionError: (error) => options.logger.warn({ err: error.message }, 'database connection error'),
        })
      : new PGliteDialect({
          // Created on first use, so starting the app touches nothing.
          pglite: () => {
            mkdirSync(pgliteDir, { recursive: true });
            // bigint columns as strings, as pg returns them, so the API answers the same on both engines.
            return new PGlite(pgliteDir, { parsers: { [types.INT8]: (value: string) => value } });
          },
        }),
  });
  // No engine named: PGliteDialect and createPgDialect mark the Kysely instance with theirs.
  const adapter = createKyselyAdapter({ db, target, schema: values.schema, table: values.table, ...telemetry });
  const cache = createStatusCache<MigrationStatus>({ ttlMs: values.cacheTtlMs, meterProvider: options.meterProvider });
  const where = url ? `${target.system} ${target.server}/${target.namespace}` : `PGlite ${pgliteDir}`;
  const service = createDatabaseService<Db>({
    connect: async () => {
      await sql`select 1`.execute(db);
      return db;
    },
    disconnect: (conn) => conn.destroy(),
    migrator: () =>
      createMigrator({
        source: createFolderSource(values.migrationsDir),
        store: adapter.store,
        lock: adapter.createLock({
          strategy: values.lockStrategy,
          leaseTtlMs: values.leaseTtlMs,
          logger: options.logger,
        }),
        lockTimeoutMs: values.lockTimeoutMs,
        logger: options.logger,
        ...telemetry,
      }),
    cache,
    autoMigrate: values.autoMigrate,
    dryRun: values.dryRun,
    onPending: values.onPending,
    onFailure: values.onFailure,
    lockTimeoutMs: values.lockTimeoutMs,
    target: where,
    logger: options.logger,
    ...telemetry,
  });
  return {
    engine: adapter.engine,
    where,
    service,
    cache,
    ensureInitialized: () => service.ensureInitialized(),
    state: () => service.state(),
    close: () => service.close(),
  };
}
