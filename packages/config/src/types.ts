import type { FailurePolicy, LintMode, LockStrategy, PendingPolicy, TransactionMode } from '@mig/core';

// The unions are core's (`@mig/core` defines every closed set of values once); config re-exports them.
export type { FailurePolicy, LintMode, LockStrategy, PendingPolicy, TransactionMode };

/**
 * Which tenants `mig up --tenants` and `mig status --tenants` work on: a SQL LIKE pattern over schema (or
 * database) names (`'tenant_%'`), a comma-separated list, a list, or a function that returns the names (it
 * gets the Kysely instance, to read them from a table of your own).
 */
export type TenantSelection =
  | string
  | readonly string[]
  // biome-ignore lint/suspicious/noExplicitAny: the Kysely instance of any database.
  | ((db: any) => Promise<readonly string[]> | readonly string[]);

/** The resolved, validated configuration. Durations are in milliseconds. */
export interface MigConfig {
  /** Where to connect; `undefined` when nothing set it (the app decides, e.g. an embedded database). */
  readonly databaseUrl: string | undefined;
  /** A libSQL server's auth token (Turso's database token), kept out of the URL; never shown. */
  readonly databaseAuthToken: string | undefined;
  /** Apply pending migrations on first use. Default: true when NODE_ENV is development, test or unset. */
  readonly autoMigrate: boolean;
  /** Longest wait for the migration lock. */
  readonly lockTimeoutMs: number;
  /** Plan and print pending migrations; apply and write nothing. */
  readonly dryRun: boolean;
  /** How long a known migration status is trusted. */
  readonly cacheTtlMs: number;
  readonly lockStrategy: LockStrategy;
  /** Absolute: a relative value resolves against the config file's folder (file) or `cwd` (env, flags, default). */
  readonly migrationsDir: string;
  readonly onPending: PendingPolicy;
  readonly onFailure: FailurePolicy;
  /** Lifetime of a lease lock without renewal (`lockStrategy: 'lease'`). */
  readonly leaseTtlMs: number;
  /**
   * Longest run of one migration, past which it is stopped (rolled back where the engine can) and the lock
   * let go; `undefined` (or 0) for none, the default: a real migration may take hours.
   */
  readonly migrationTimeoutMs: number | undefined;
  /**
   * One attempt's wait for a table lock inside a migration (PostgreSQL, MySQL/MariaDB); when it runs out the
   * migration is rolled back, the application's queries go through, and it is tried again within
   * `lockTimeoutMs`. 0 for one attempt as long as `lockTimeoutMs`.
   */
  readonly ddlLockTimeoutMs: number;
  /**
   * Lint findings in a migration about to be applied: `error` refuses it when the service migrates itself in
   * production (AUTO_MIGRATE with NODE_ENV=production) and `mig up` warns; `warn` only warns; `off` lints nothing.
   */
  readonly lint: LintMode;
  /**
   * PostgreSQL: longest run of each statement of a migration (statement_timeout), unless its file says
   * otherwise (`-- mig:statement-timeout 5min`); `undefined` (or 0) for none, the default.
   */
  readonly statementTimeoutMs: number | undefined;
  /** Schema of mig's own tables. */
  readonly schema: string;
  /** Name of mig's record table; the lock and head tables add a suffix to it. */
  readonly table: string;
  /**
   * How `up` uses transactions: `each` migration in its own with its record (a failure keeps those before
   * it), or `all` in one (a failure leaves nothing; refused on MySQL, whose DDL commits implicitly).
   */
  readonly transaction: TransactionMode;
  /** The tenants the CLI works on with `--tenants` and no value; undefined for none. */
  readonly tenants: TenantSelection | undefined;
  /** Tenants migrated at once (the CLI's `--concurrency`, a service's first requests). Default 4. */
  readonly tenantConcurrency: number;
  /** A tenant's schema (database) is created on its first request when it is missing. Default true. */
  readonly createTenantSchemas: boolean;
}

/** Where a resolved value came from. Precedence: flag > env > file > default. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export interface ResolvedConfig {
  /**
   * The values to use. `values.databaseUrl` holds the real URL (the app must connect with it); serializing
   * `values` or the whole result (`JSON.stringify`, `util.inspect`, pino) shows a redacted copy instead.
   */
  readonly values: MigConfig;
  readonly sources: { readonly [K in keyof MigConfig]: ConfigSource };
  /** Absolute path of the config file used, if any. */
  readonly file: string | undefined;
  /** NODE_ENV as read (blank counts as unset). */
  readonly nodeEnv: string | undefined;
  /** Things that are allowed but worth a look, e.g. AUTO_MIGRATE=true honoured in production. */
  readonly warnings: readonly string[];
}

/** Accepts a known value with editor completion, or any other string (validated at run time). */
type OneOf<T extends string> = T | (string & {});

/**
 * What a config file, `defineConfig` or the `overrides` (CLI flags) may contain. Durations are a number of
 * milliseconds or a string with a unit (`"500ms"`, `"30s"`, `"5m"`, `"1h"`); booleans are a boolean or one
 * of the strings true/false, 1/0, yes/no, on/off.
 */
export interface MigConfigInput {
  /**
   * Where the database is: `postgres://…`, `postgresql://…`, `mysql://…`, `mariadb://…`, `sqlite:PATH`,
   * `file:PATH`, `pglite:DIR`, `neon://…`, or libSQL's `libsql+file:PATH`, `libsql://HOST`, `https://HOST`.
   * Env: DATABASE_URL.
   */
  databaseUrl?: string | undefined;
  /**
   * A libSQL server's auth token, when the URL does not carry it (`?authToken=`). Env: DATABASE_AUTH_TOKEN.
   * Keep it in the environment rather than a committed file.
   */
  databaseAuthToken?: string | undefined;
  /** Env: AUTO_MIGRATE. Default: true when NODE_ENV is development, test or unset; false otherwise. */
  autoMigrate?: boolean | string | undefined;
  /** 0 to 24h. Env: MIGRATION_LOCK_TIMEOUT. Default 30s. */
  lockTimeout?: number | string | undefined;
  /** Env: MIGRATION_DRY_RUN. Default false. */
  dryRun?: boolean | string | undefined;
  /** 0 to 24h. Env: MIGRATION_CACHE_TTL. Default 5m. */
  cacheTtl?: number | string | undefined;
  /** Env: MIGRATION_LOCK_STRATEGY. Default advisory. */
  lockStrategy?: OneOf<LockStrategy> | undefined;
  /** Relative to the config file's folder. Env: MIGRATIONS_DIR (relative to cwd). Default ./migrations. */
  migrationsDir?: string | undefined;
  /** Default warn. */
  onPending?: OneOf<PendingPolicy> | undefined;
  /** Default throw. */
  onFailure?: OneOf<FailurePolicy> | undefined;
  /** 1s to 1h. Default 30s. */
  leaseTtl?: number | string | undefined;
  /** 0 (none) to 7 days. Env: MIGRATION_TIMEOUT. Default none. */
  migrationTimeout?: number | string | undefined;
  /** 0 (one long attempt) to 1h. Env: MIGRATION_DDL_LOCK_TIMEOUT. Default 1s. */
  ddlLockTimeout?: number | string | undefined;
  /** error, warn or off. Default error. */
  lint?: OneOf<LintMode> | undefined;
  /** 0 (none) to 7 days. Env: MIGRATION_STATEMENT_TIMEOUT. Default none. */
  statementTimeout?: number | string | undefined;
  /** Default public. */
  schema?: string | undefined;
  /** Default mig_migrations. */
  table?: string | undefined;
  /** `each` or `all` (every pending migration in one transaction; `mig up --single-transaction`). Default each. */
  transaction?: OneOf<TransactionMode> | undefined;
  /** A LIKE pattern (`tenant_%`), a comma-separated list, a list, or a function. Env: MIGRATION_TENANTS. */
  tenants?: TenantSelection | undefined;
  /** 1 to 64. Env: MIGRATION_TENANT_CONCURRENCY. Default 4. */
  tenantConcurrency?: number | string | undefined;
  /** Default true. */
  createTenantSchemas?: boolean | string | undefined;
}
