import { type CacheStats, createStatusCache, type MigStatusCache } from '@mig/cache';
import {
  adviceFor,
  type ConfigSummary,
  logConfig,
  type MigConfigInput,
  type ResolvedConfig,
  summarizeConfig,
} from '@mig/config';
import {
  createDatabaseService,
  type DatabaseService,
  type EnsureOptions,
  InvalidOptionError,
  type Logger,
  MigError,
  MigErrorCode,
  type MigrationSource,
  type MigrationStatus,
  type ServiceState,
  type TenantServices,
} from '@mig/core';
import { IDLE_SERVICE_STATE } from '@mig/core/adapter';
import { type Engine, isTransientConnectionError, type MigrationBundle, type MigrationDb } from '@mig/kysely-adapter';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import { createConsoleLogger } from './console-logger.js';
import type { LintAction } from './lint-guard.js';
import { loadMigConfig, openMigration } from './open-migration.js';
import { hasSignals, processStops } from './process-stops.js';
import { createTenantServices, reportTenants, type TenantOptions, type TenantsReport } from './tenants.js';

export interface CreateDatabaseOptions {
  /** Where the config file is searched from, and what relative paths resolve against. Default `process.cwd()`. */
  readonly cwd?: string | undefined;
  /** The environment to read (DATABASE_URL, AUTO_MIGRATE, …). Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** An explicit config file instead of the search for `mig.config.*`. */
  readonly configFile?: string | undefined;
  /** Values that win over the environment and the config file (the same keys as `mig.config.ts`). */
  readonly overrides?: MigConfigInput | undefined;
  /** The database when neither DATABASE_URL nor the config file names one, e.g. `pglite:./.data/pglite`. */
  readonly defaultUrl?: string | undefined;
  /** Shown in pg_stat_activity and in lock-wait messages. */
  readonly applicationName?: string | undefined;
  /** Most connections in the pool. Default 10. */
  readonly maxConnections?: number | undefined;
  /**
   * The migrations, instead of the migrations folder: the default export of the module `mig bundle` wrote
   * (for a bundled build, which has no folder at run time), or a source (`createListSource`, …).
   */
  readonly migrations?: MigrationSource<MigrationDb> | MigrationBundle | undefined;
  /**
   * The Kysely instance to migrate and hand out, made by the application, instead of one opened on
   * DATABASE_URL: for a database no URL reaches, such as a Worker's D1 binding
   * (`new Kysely({ dialect: createD1Dialect(env.DB) })`). Its engine is read from it; `close()` destroys it.
   */
  readonly db?: MigrationDb | undefined;
  /** Default: one `[mig] …` line per event on the console. Pass pino or any logger of its shape. */
  readonly logger?: Logger | undefined;
  /**
   * Check the status in the background as soon as this is created: the configuration is read and logged,
   * the connection opened and the status cache filled. It never migrates; the first `ensureInitialized()` does.
   */
  readonly warm?: boolean | undefined;
  /**
   * While a migration run holds the lock, SIGTERM and SIGINT stop it first (the running migration gets a
   * grace period, then is rolled back where the engine can), the lock is let go, and the signal is raised
   * again so the process ends as it would have. Default true; false leaves signals entirely to the
   * application (call `close()` on shutdown: it does the same). Where there are no signals (a Cloudflare
   * Worker), nothing listens.
   */
  readonly handleSignals?: boolean | undefined;
  readonly tracerProvider?: TracerProvider | undefined;
  readonly meterProvider?: MeterProvider | undefined;
  /**
   * A schema per tenant (a database per tenant on MySQL): `ensureInitialized({ tenant })` then resolves to
   * a Kysely instance in that tenant's schema, brought up to date on the tenant's first request. `true` for
   * the defaults (the schema is named as the tenant id).
   */
  readonly tenants?: TenantOptions | true | undefined;
}

/** What a `/migrations` endpoint or a readiness probe shows: no I/O to read. */
export interface DatabaseReport {
  /** "postgresql db:5432/shop", "PGlite ./.data/pglite"; null before the first initialization. */
  readonly where: string | null;
  readonly engine: Engine | null;
  readonly state: ServiceState;
  readonly cache: CacheStats | null;
  /** The effective configuration with its sources, the password masked; null before it is read. */
  readonly config: {
    readonly file: string | undefined;
    readonly nodeEnv: string | undefined;
    readonly values: ConfigSummary;
  } | null;
  /** With tenants: how many are known, ready, starting and failing (named); null without tenants. */
  readonly tenants: TenantsReport | null;
}

/** A Kysely database that brings its schema up to date on first use. See {@link createDatabase}. */
export interface MigDatabase<DB> {
  /**
   * The Kysely instance, once the schema is up to date: the first call reads the configuration, connects,
   * checks and (by policy) migrates under the lock; later calls answer at once.
   */
  ensureInitialized(options?: EnsureOptions): Promise<Kysely<DB>>;
  /**
   * The configuration, read and validated once (the environment, the config file, the overrides): call it
   * at startup to fail fast on a bad value. Rejects with a `ConfigError` listing every problem. Connects to
   * nothing.
   */
  configuration(): Promise<ResolvedConfig>;
  /** Reads the configuration, connects and fills the status cache, without migrating. Never rejects. */
  warm(): Promise<void>;
  /** The service's state, without I/O; with tenants, that tenant's (idle before its first request). */
  state(tenant?: string): ServiceState;
  report(): DatabaseReport;
  /** Closes the connections. */
  close(): Promise<void>;
}

/**
 * The one call that plugs mig into a service: the configuration from the environment and `mig.config.*`
 * (DATABASE_URL, AUTO_MIGRATE with its NODE_ENV defaults, MIGRATION_LOCK_TIMEOUT, MIGRATION_DRY_RUN,
 * MIGRATION_CACHE_TTL, MIGRATION_LOCK_STRATEGY, MIGRATIONS_DIR), a Kysely instance on DATABASE_URL, mig's
 * store and lock, the status cache, and the database service. Nothing happens until the first
 * `ensureInitialized()` (or `warm`).
 *
 * @example
 * const database = createDatabase<DB>();
 * export const ensureInitialized = () => database.ensureInitialized();
 */
export function createDatabase<DB>(options: CreateDatabaseOptions = {}): MigDatabase<DB> {
  return new OneCallDatabase<DB>(options);
}

interface Built<DB> {
  readonly config: ResolvedConfig;
  readonly db: Kysely<DB>;
  readonly engine: Engine;
  readonly where: string;
  readonly cache: MigStatusCache<MigrationStatus>;
  readonly service: DatabaseService<Kysely<DB>>;
  readonly tenants: TenantServices<Kysely<DB>> | undefined;
}

class OneCallDatabase<DB> implements MigDatabase<DB> {
  readonly #options: Readonly<CreateDatabaseOptions>;
  readonly #logger: Logger;
  #built: Built<DB> | undefined;
  /** The configuration once read: advice names each setting as it was set. */
  #config: ResolvedConfig | undefined;
  #building: Promise<Built<DB>> | undefined;
  #closed = false;

  constructor(options: CreateDatabaseOptions) {
    this.#options = Object.freeze({ ...options });
    this.#logger = withAdvice(options.logger ?? createConsoleLogger(), () => this.#config);
    if (options.warm) void this.warm();
  }

  ensureInitialized(options?: EnsureOptions): Promise<Kysely<DB>> {
    const built = this.#built;
    if (built !== undefined) {
      const tenant = options?.tenant;
      if (tenant === undefined && built.tenants === undefined) return built.service.ensureInitialized(options);
      return tenant !== undefined && built.tenants !== undefined
        ? built.tenants.ensureInitialized(tenant, options)
        : Promise.reject(tenantMismatch(tenant));
    }
    return this.#build().then(() => this.ensureInitialized(options));
  }

  async configuration(): Promise<ResolvedConfig> {
    return (await this.#build()).config;
  }

  async warm(): Promise<void> {
    try {
      await (await this.#build()).service.warm();
    } catch {
      // Logged by #build; the first ensureInitialized() reports it.
    }
  }

  state(tenant?: string): ServiceState {
    const built = this.#built;
    if (tenant !== undefined) return built?.tenants?.state(tenant) ?? { ...IDLE_SERVICE_STATE, tenant };
    return built?.service.state() ?? IDLE_SERVICE_STATE;
  }

  report(): DatabaseReport {
    const built = this.#built;
    return {
      where: built?.where ?? null,
      engine: built?.engine ?? null,
      state: this.state(),
      cache: built?.cache.stats() ?? null,
      config: built
        ? { file: built.config.file, nodeEnv: built.config.nodeEnv, values: summarizeConfig(built.config) }
        : null,
      tenants: built?.tenants ? reportTenants(built.tenants.states()) : null,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const built = await this.#building?.catch(() => undefined);
    if (built) {
      await built.service.close();
      if (built.tenants) {
        await built.tenants.close();
        // The tenants share the pool, which no single service owns.
        await built.db.destroy();
      }
      built.cache.dispose();
    }
  }

  /** Once: the configuration (validated before anything touches the database), then what it describes. */
  #build(): Promise<Built<DB>> {
    if (this.#closed) return Promise.reject(closedError());
    this.#building ??= this.#assemble().then(
      (built) => {
        this.#built = built;
        return built;
      },
      (error: unknown) => {
        this.#logger.error({ code: (error as { code?: unknown }).code }, (error as Error).message);
        throw error;
      },
    );
    return this.#building;
  }

  async #assemble(): Promise<Built<DB>> {
    const o = this.#options;
    const config = await loadMigConfig({ cwd: o.cwd, env: o.env, configFile: o.configFile, overrides: o.overrides });
    this.#config = config;
    logConfig(config, this.#logger);
    const { values } = config;
    const telemetry = { tracerProvider: o.tracerProvider, meterProvider: o.meterProvider };
    const { db, engine, where, migrator, opened, source, url } = await openMigration<DB>(config, {
      defaultUrl: o.defaultUrl,
      applicationName: o.applicationName,
      maxConnections: o.maxConnections,
      migrations: o.migrations,
      db: o.db,
      logger: this.#logger,
      lint: lintAction(config),
      ...telemetry,
    });
    const cache = createStatusCache<MigrationStatus>({ ttlMs: values.cacheTtlMs, meterProvider: o.meterProvider });
    const common = {
      cache,
      // Many instances starting at once can fill the server's connections for a moment: that is retried, as
      // this engine reports it, not fatal.
      isTransientConnectError: (error: unknown) => isTransientConnectionError(error, engine),
      autoMigrate: values.autoMigrate,
      dryRun: values.dryRun,
      onPending: values.onPending,
      onFailure: values.onFailure,
      lockTimeoutMs: values.lockTimeoutMs,
      target: where,
      logger: this.#logger,
      // While a run holds the lock, SIGTERM and SIGINT let it go first (then end the process as they would).
      stops: o.handleSignals === false || !hasSignals() ? undefined : processStops(this.#logger),
      ...telemetry,
    };
    const service = createDatabaseService<Kysely<DB>>({
      ...common,
      connect: async () => {
        // A connection opened and handed back to the pool, with no statement: the status check reuses it.
        await db.connection().execute(async () => {});
        return db;
      },
      disconnect: (conn) => conn.destroy(),
      migrator: () => migrator,
    });
    const tenants =
      o.tenants === undefined
        ? undefined
        : createTenantServices<DB>(
            {
              config,
              opened,
              source,
              url,
              // One entry per tenant: a bound as large as the tenants, never a churn of re-checks.
              cache: createStatusCache<MigrationStatus>({
                ttlMs: values.cacheTtlMs,
                maxEntries: MAX_CACHED_TENANTS,
                meterProvider: o.meterProvider,
              }),
              logger: this.#logger,
              where,
              maxConnections: o.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
              common,
              lint: lintAction(config),
            },
            o.tenants === true ? {} : o.tenants,
          );
    return { config, db, engine, where, cache, service, tenants };
  }
}

/**
 * The production guard: a service that migrates itself in production (AUTO_MIGRATE with NODE_ENV=production)
 * lints each migration before it applies it, and by default refuses one with a finding nobody accepted.
 */
function lintAction(config: ResolvedConfig): LintAction | undefined {
  const { lint, autoMigrate } = config.values;
  if (lint === 'off' || !autoMigrate || config.nodeEnv !== 'production') return undefined;
  return lint === 'error' ? 'refuse' : 'warn';
}

/** The pool's size when `maxConnections` is not given (the engines' dialects default to it too). */
const DEFAULT_MAX_CONNECTIONS = 10;

/** Tenants whose status one service keeps in its cache at most (about 1 KB each). */
const MAX_CACHED_TENANTS = 1_000_000;

function tenantMismatch(tenant: string | undefined): InvalidOptionError {
  return tenant === undefined
    ? new InvalidOptionError(
        'tenant',
        'This database has a schema per tenant: pass the tenant, as in ensureInitialized({ tenant: "acme" }).',
      )
    : new InvalidOptionError(
        'tenant',
        `A tenant ("${tenant}") was given, but this database has no tenants: pass createDatabase({ tenants: … }).`,
      );
}

function closedError(): MigError {
  return new MigError(MigErrorCode.Aborted, 'The database was closed; create a new one.');
}

/** The logger, with advice naming the settings to change added to any line about a mig error (`code`). */
function withAdvice(logger: Logger, config: () => ResolvedConfig | undefined): Logger {
  const advised =
    (write: (fields: object, message?: string) => void) =>
    (fields: object, message?: string): void => {
      const advice = adviceFor(fields, config());
      write(advice ? { ...fields, advice } : fields, message);
    };
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.info(fields, message),
    warn: advised((fields, message) => logger.warn(fields, message)),
    error: advised((fields, message) => logger.error(fields, message)),
  };
}
