import { loadConfig, type MigConfigInput, type ResolvedConfig } from '@mig/config';
import { ConnectionError, createMigrator, InvalidOptionError, type Migrator } from '@mig/core';
import {
  createFolderSource,
  createKyselyAdapter,
  type KyselyAdapter,
  type MigrationDb,
  openDatabase,
} from '@mig/kysely-adapter';
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
  close(): Promise<void>;
}

function defined(input: MigConfigInput): MigConfigInput {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as MigConfigInput;
}

/** Resolves the configuration (flags > environment > file > defaults); throws ConfigError listing every problem. */
export function resolveCliConfig(io: Io, flags: GlobalFlags, overrides: MigConfigInput = {}): Promise<ResolvedConfig> {
  return loadConfig({
    cwd: io.cwd,
    env: io.env,
    configFile: flags.config,
    overrides: defined({ ...overrides, databaseUrl: flags.url, migrationsDir: flags.migrations }),
  });
}

/** Opens the database and builds the migrator the command works with. */
export async function openContext(
  io: Io,
  flags: GlobalFlags,
  output: Output,
  overrides: MigConfigInput = {},
): Promise<CommandContext> {
  const config = await resolveCliConfig(io, flags, overrides);
  for (const warning of config.warnings) output.logger.warn({}, warning);
  const { values } = config;
  if (!values.databaseUrl) {
    throw new InvalidOptionError(
      'databaseUrl',
      'No database to connect to: set DATABASE_URL, pass --url, or set databaseUrl in mig.config.ts.',
    );
  }
  // The engine's driver is loaded here, and only the one this URL needs.
  const { db, target, where } = await openDatabase<unknown>(values.databaseUrl, {
    applicationName: 'mig',
    maxConnections: 3,
    onConnectionError: (error) => output.logger.warn({}, `database connection error: ${error.message}`),
  });
  const started = performance.now();
  try {
    await sql`select 1`.execute(db);
  } catch (error) {
    await db.destroy().catch(() => {});
    throw new ConnectionError(where, 1, performance.now() - started, error);
  }
  const adapter = createKyselyAdapter({
    db,
    target,
    // Unless set, the engine's own: `public` where there are schemas, the connection's database elsewhere.
    schema: config.sources.schema === 'default' ? undefined : values.schema,
    table: values.table,
    logger: output.logger,
  });
  const migrator = createMigrator({
    source: createFolderSource(values.migrationsDir, { cwd: io.cwd }),
    store: adapter.store,
    lock: adapter.createLock({ strategy: values.lockStrategy, leaseTtlMs: values.leaseTtlMs, logger: output.logger }),
    lockTimeoutMs: values.lockTimeoutMs,
    logger: output.logger,
  });
  return {
    config,
    db: db as MigrationDb,
    adapter,
    migrator,
    where: `${where} (${adapter.store.tables.qualified})`,
    close: () => db.destroy(),
  };
}
