import type { MigConfigInput, ResolvedConfig } from '@mig/config';
import { ConnectionError, type MigrationSource, type Migrator } from '@mig/core';
import { describeServerWhere, type KyselyAdapter, type MigrationDb } from '@mig/kysely-adapter';
import { loadMigConfig, type OpenedPlace, openMigration } from '@mig/service';
import { sql } from 'kysely';
import type { Io, Output } from './output.js';

/** Flags every command accepts. */
export interface GlobalFlags {
  readonly url?: string | undefined;
  readonly migrations?: string | undefined;
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
}

export interface CommandContext {
  readonly config: ResolvedConfig;
  readonly db: MigrationDb;
  readonly adapter: KyselyAdapter;
  readonly migrator: Migrator<MigrationDb>;
  /**
   * Where the migrations come from (also for a store per tenant): a folder says which layout it read
   * (`layout`) once loaded, and what it noticed (`notices`).
   */
  readonly source: MigrationSource<MigrationDb> & { readonly notices?: readonly string[] };
  /** "postgresql 127.0.0.1:5432/shop (public.mig_migrations)": where this command works, no secrets. */
  readonly where: string;
  /** The database as opened: for a store per tenant on it. */
  readonly opened: OpenedPlace;
  /** The database URL (secrets in it: never printed). */
  readonly url: string;
  close(): Promise<void>;
}

function defined(input: MigConfigInput): MigConfigInput {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as MigConfigInput;
}

/** Resolves the configuration (flags > environment > file > defaults); throws ConfigError listing every problem. */
export function resolveCliConfig(io: Io, flags: GlobalFlags, overrides: MigConfigInput = {}): Promise<ResolvedConfig> {
  return loadMigConfig({
    cwd: io.cwd,
    env: io.env,
    configFile: flags.config,
    overrides: defined({ ...overrides, databaseUrl: flags.url, migrationsDir: flags.migrations }),
  });
}

/** How a command opens the database. */
export interface OpenOptions {
  /** Lint each migration about to be applied and warn of its findings (unless `lint` is off): `mig up`. */
  readonly lintWarnings?: boolean | undefined;
  /** The pool's size (over tenants, each running tenant may hold a lock session and a migration's connection). */
  readonly maxConnections?: number | undefined;
}

/** Opens the database and builds the migrator the command works with. */
export async function openContext(
  config: ResolvedConfig,
  output: Output,
  options: OpenOptions = {},
): Promise<CommandContext> {
  for (const warning of config.warnings) output.logger.warn({}, warning);
  // The engine's driver is loaded here, and only the one this URL needs.
  const { db, where, adapter, migrator, opened, source, url } = await openMigration<unknown>(config, {
    urlFlag: '--url',
    applicationName: 'mig',
    maxConnections: options.maxConnections ?? 3,
    logger: output.logger,
    lint: options.lintWarnings === true && config.values.lint !== 'off' ? 'warn' : undefined,
  });
  const started = performance.now();
  let server = where;
  try {
    await sql`select 1`.execute(db);
    // "MariaDB 10.11 db:3306/shop" where the server says so, rather than the protocol's name.
    server = await describeServerWhere(db as MigrationDb, where);
  } catch (error) {
    await db.destroy().catch(() => {});
    throw new ConnectionError(where, 1, performance.now() - started, error);
  }
  return {
    config,
    db: db as MigrationDb,
    adapter,
    migrator,
    source,
    where: `${server} (${adapter.store.tables.qualified})`,
    opened: { db: opened.db as MigrationDb, target: opened.target },
    url,
    close: () => db.destroy(),
  };
}
