import type { MigConfigInput, ResolvedConfig } from '@mig/config';
import type { MigrationSource } from '@mig/core';
import { ConnectionError, type Migrator } from '@mig/core';
import type { KyselyAdapter, MigrationDb } from '@mig/kysely-adapter';
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
  /** "postgresql 127.0.0.1:5432/shop (public.mig_migrations)": where this command works, no secrets. */
  readonly where: string;
  /** The database as opened, and the migrations: for a store per tenant on it. */
  readonly opened: OpenedPlace;
  readonly source: MigrationSource<MigrationDb>;
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

/** Opens the database and builds the migrator the command works with. */
export async function openContext(
  config: ResolvedConfig,
  output: Output,
  options: { readonly maxConnections?: number | undefined } = {},
): Promise<CommandContext> {
  for (const warning of config.warnings) output.logger.warn({}, warning);
  // The engine's driver is loaded here, and only the one this URL needs.
  const { db, where, adapter, migrator, opened, source, url } = await openMigration<unknown>(config, {
    urlFlag: '--url',
    applicationName: 'mig',
    maxConnections: options.maxConnections ?? 3,
    logger: output.logger,
  });
  const started = performance.now();
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    await db.destroy().catch(() => {});
    throw new ConnectionError(where, 1, performance.now() - started, error);
  }
  return {
    config,
    db: db as MigrationDb,
    adapter,
    migrator,
    where: `${where} (${adapter.store.tables.qualified})`,
    opened: { db: opened.db as MigrationDb, target: opened.target },
    source,
    url,
    close: () => db.destroy(),
  };
}
