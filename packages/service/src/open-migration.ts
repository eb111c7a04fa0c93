import { type LoadConfigOptions, loadConfig, type ResolvedConfig } from '@mig/config';
import {
  createMigrator,
  type Logger,
  MigError,
  MigErrorCode,
  type MigrationLock,
  type MigrationSource,
  type Migrator,
} from '@mig/core';
import { DEFAULT_IDLE_IN_TRANSACTION_MS, redactCredentials } from '@mig/core/adapter';
import {
  createBundleSource,
  createFolderSource,
  createKyselyAdapter,
  createMigrationLinter,
  describeDatabase,
  type Engine,
  type KyselyAdapter,
  type KyselyFence,
  type MigrationBundle,
  type MigrationDb,
  type OpenedDatabase,
  openDatabase,
  URL_FORMS,
} from '@mig/kysely-adapter';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import { guardSource, type LintAction } from './lint-guard.js';

/**
 * mig's configuration, as every edge reads it (the CLI, `createDatabase`): the environment, the config file
 * and the overrides, with the database URL forms of every engine mig opens.
 */
export function loadMigConfig(options: Omit<LoadConfigOptions, 'databaseUrls'> = {}): Promise<ResolvedConfig> {
  return loadConfig({ ...options, databaseUrls: URL_FORMS });
}

export interface OpenMigrationOptions {
  /** The database when the configuration names none (e.g. `pglite:./.data/pglite`). */
  readonly defaultUrl?: string | undefined;
  /** The flag that names the database at this edge (the CLI's `--url`), for the message when none is named. */
  readonly urlFlag?: string | undefined;
  /** Shown in pg_stat_activity and in lock-wait messages. */
  readonly applicationName?: string | undefined;
  /** Most connections in the pool. Default 10. */
  readonly maxConnections?: number | undefined;
  /**
   * Migrations instead of the configured folder: a bundle (the default export of the module `mig bundle`
   * wrote), read with the engine's SQL splitter, or a source (`createListSource`, …).
   */
  readonly migrations?: MigrationSource<MigrationDb> | MigrationBundle | undefined;
  /**
   * A Kysely instance the application made, instead of one opened on the configured URL: a database no URL
   * reaches (a Worker's D1 binding). Its engine is read from it.
   */
  readonly db?: MigrationDb | undefined;
  readonly logger: Logger;
  /**
   * Lint each migration as it is about to be applied (on an engine with lint rules): `refuse` a migration with
   * a finding no `-- mig:allow` accepts, or `warn` and apply it. Default: no lint.
   */
  readonly lint?: LintAction | undefined;
  readonly tracerProvider?: TracerProvider | undefined;
  readonly meterProvider?: MeterProvider | undefined;
}

/** Everything the configuration describes, opened: the database, mig's store and lock on it, and the migrator. */
export interface OpenedMigration<DB> {
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  /** "postgresql db:5432/shop", "SQLite ./app.db": where it goes, no secrets. */
  readonly where: string;
  readonly adapter: KyselyAdapter;
  readonly lock: MigrationLock<KyselyFence>;
  readonly migrator: Migrator<MigrationDb>;
  /** The database as opened (its engine and target), for more stores on it: a tenant's. */
  readonly opened: OpenedDatabase<DB>;
  /** The migrations: the folder (split as the engine reads SQL) or the given source. */
  readonly source: MigrationSource<MigrationDb>;
  /** The database URL opened (it holds secrets: never log it). */
  readonly url: string;
}

/**
 * The one path from a configuration to a ready migrator, for every edge: the database URL opened with its
 * engine's driver (nothing connects until the first query), mig's store and lock on it as configured, the
 * migrations folder (or the given source, split as the engine reads SQL) and the migrator.
 *
 * @example
 * const config = await loadMigConfig();
 * const { migrator, db } = await openMigration(config, { logger: console });
 * const { error } = await migrator.up();
 */
export async function openMigration<DB>(
  config: ResolvedConfig,
  options: OpenMigrationOptions,
): Promise<OpenedMigration<DB>> {
  const { values } = config;
  // A Kysely instance the application made has no URL: where it goes is the instance's.
  const { opened, url } =
    options.db === undefined
      ? await openConfigured<DB>(config, options)
      : { opened: describeDatabase(options.db) as OpenedDatabase<DB>, url: '' };
  const source = sourceOf(options.migrations, values.migrationsDir, opened);
  const { adapter, lock, migrator } = migrationOn(config, opened, source, options);
  return { db: opened.db, engine: opened.engine, where: opened.where, adapter, lock, migrator, opened, source, url };
}

/** The configured URL (or the default) opened with its engine's driver; an error when none is named. */
async function openConfigured<DB>(
  config: ResolvedConfig,
  options: OpenMigrationOptions,
): Promise<{ opened: OpenedDatabase<DB>; url: string }> {
  const { values } = config;
  const url = values.databaseUrl ?? options.defaultUrl;
  if (url === undefined) {
    const flag = options.urlFlag === undefined ? '' : `pass ${options.urlFlag}, `;
    throw new MigError(
      MigErrorCode.InvalidConfig,
      `No database to connect to: set DATABASE_URL, ${flag}or set databaseUrl in mig.config.ts (${URL_FORMS.join(', ')}).`,
      { context: { option: 'databaseUrl' } },
    );
  }
  const opened = await openDatabase<DB>(url, {
    applicationName: options.applicationName,
    maxConnections: options.maxConnections,
    authToken: values.databaseAuthToken,
    onConnectionError: (error) =>
      options.logger.warn({ err: error.message }, `database connection error: ${redactCredentials(error.message)}`),
  });
  return { opened, url };
}

/** A database already opened: the Kysely instance and where it goes. */
export type OpenedPlace = Pick<OpenedDatabase<unknown>, 'target'> & { readonly db: MigrationDb };

/** What a store's schema is, and whether it is a tenant's (its migrations then run in it). */
export interface StorePlace {
  readonly schema?: string | undefined;
  readonly tenant?: boolean | undefined;
}

/** The migrations: the folder, a source as given, or a bundle; SQL split as the opened engine reads it. */
function sourceOf(
  migrations: MigrationSource<MigrationDb> | MigrationBundle | undefined,
  folder: string,
  opened: OpenedPlace,
): MigrationSource<MigrationDb> {
  if (migrations === undefined) return createFolderSource(folder, { splitter: splitterOf(opened) });
  if (typeof (migrations as Partial<MigrationSource>).load === 'function')
    return migrations as MigrationSource<MigrationDb>;
  return createBundleSource(migrations as MigrationBundle, { splitter: splitterOf(opened) });
}

/** The folder's SQL split as the opened engine reads it. */
function splitterOf(opened: OpenedPlace): KyselyAdapter['splitter'] {
  return createKyselyAdapter({ db: opened.db, target: opened.target }).splitter;
}

/**
 * mig's store, lock and migrator on an opened database, as the configuration says: in the configured schema,
 * or in `place` (a tenant's schema, where its migrations run too).
 */
export function migrationOn(
  config: ResolvedConfig,
  opened: OpenedPlace,
  source: MigrationSource<MigrationDb>,
  options: Pick<OpenMigrationOptions, 'logger' | 'tracerProvider' | 'meterProvider' | 'lint'>,
  place: StorePlace = {},
): { adapter: KyselyAdapter; lock: MigrationLock<KyselyFence>; migrator: Migrator<MigrationDb> } {
  const { values } = config;
  const telemetry = { tracerProvider: options.tracerProvider, meterProvider: options.meterProvider };
  // 0 reads as none; a migration's transaction idles no longer than its whole run may last.
  const migrationTimeoutMs = values.migrationTimeoutMs || undefined;
  const adapter = createKyselyAdapter({
    db: opened.db,
    target: opened.target,
    // The migration lock timeout is also the budget of a migration's short table-lock attempts.
    lockWaitTimeoutMs: values.lockTimeoutMs,
    ddlLockTimeoutMs: values.ddlLockTimeoutMs,
    statementTimeoutMs: values.statementTimeoutMs || undefined,
    idleInTransactionTimeoutMs: Math.min(
      DEFAULT_IDLE_IN_TRANSACTION_MS,
      migrationTimeoutMs ?? Number.POSITIVE_INFINITY,
    ),
    // Unless set, the engine's own: `public` where there are schemas, the connection's database elsewhere.
    schema: place.schema ?? (config.sources.schema === 'default' ? undefined : values.schema),
    tenant: place.tenant,
    table: values.table,
    logger: options.logger,
    ...telemetry,
  });
  const lock = adapter.createLock({
    strategy: values.lockStrategy,
    leaseTtlMs: values.leaseTtlMs,
    logger: options.logger,
  });
  // Lint each migration as it is about to be applied, where the caller asked for it.
  const linter = options.lint === undefined ? undefined : createMigrationLinter({ engine: adapter.engine });
  const migrator = createMigrator({
    source:
      linter === undefined || options.lint === undefined
        ? source
        : guardSource(source, { linter, action: options.lint, logger: options.logger }),
    store: adapter.store,
    lock,
    lockTimeoutMs: values.lockTimeoutMs,
    migrationTimeoutMs,
    transaction: values.transaction,
    logger: options.logger,
    ...telemetry,
  });
  return { adapter, lock, migrator };
}
