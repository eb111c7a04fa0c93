/**
 * Every default and every closed set of values mig has, defined once. The other packages (config, CLI,
 * adapters, lock, cache) import them from here, so a default never differs between two of them.
 */

/** Longest wait for the migration lock. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;
/** How long a known migration status is trusted (the status cache's TTL). */
export const DEFAULT_STATUS_TTL_MS = 5 * 60_000;
/** Lifetime of a lease lock without renewal; a dead holder's lease is taken over after this. */
export const DEFAULT_LEASE_TTL_MS = 30_000;
/** Longest wait of a statement inside a migration for a table lock another session holds. */
export const DEFAULT_STATEMENT_LOCK_WAIT_MS = 30_000;
/**
 * Longest run of one migration: none. A real migration can take hours (a backfill, an index on a large
 * table), and a guess would cut one short; set a timeout where a hung migration costs more than a slow one.
 */
export const DEFAULT_MIGRATION_TIMEOUT_MS: number | undefined = undefined;
/**
 * Tenants migrated at once (`mig up --tenants`, and first requests of many tenants in one service): a few,
 * so that a release over thousands of schemas goes faster than one at a time without filling the server.
 */
export const DEFAULT_TENANT_CONCURRENCY = 4;
/**
 * Longest time a migration's transaction may sit idle (no statement running) before the server ends its
 * session (PostgreSQL's idle_in_transaction_session_timeout, MySQL's wait_timeout on the migration's
 * connection): a process that is wedged, or gone without the server noticing, never holds a transaction (and
 * the table locks and the migration lock with it) for ever. Ten minutes with nothing sent is far beyond a
 * migration that works; a migration timeout below it is used instead.
 */
export const DEFAULT_IDLE_IN_TRANSACTION_MS = 10 * 60_000;
/**
 * After a stop (SIGTERM, SIGINT), how long the running migration may go on before it is stopped too (and
 * rolled back where the engine can). No new migration starts meanwhile.
 */
export const DEFAULT_STOP_GRACE_MS = 5_000;
/** Longest wait for one connection attempt. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Connection attempts before the service gives up (for this call). */
export const DEFAULT_CONNECT_ATTEMPTS = 3;
/** Longest wait for a status check's answer. */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;
/** A call with less than this left of its time budget does not start migrating. */
export const DEFAULT_MIN_MIGRATION_TIME_MS = 10_000;
/** The service's rest after a failure: doubles from `initialMs` up to `maxMs`. */
export const DEFAULT_RETRY_BACKOFF = Object.freeze({ initialMs: 1_000, maxMs: 60_000 });

/** Schema of mig's own tables (where the engine has schemas). */
export const DEFAULT_SCHEMA = 'public';
/** mig's record table; the head and lock tables add `_head` and `_lock`. */
export const DEFAULT_TABLE = 'mig_migrations';
/** Folder of migration files, relative to the working directory. */
export const DEFAULT_MIGRATIONS_DIR = './migrations';

/**
 * How instances agree on who migrates. `advisory`: a lock held by a database session (PostgreSQL advisory
 * lock, MySQL `GET_LOCK`), released by the server when its holder dies. `lease`: a lock row with an expiry,
 * renewed by a heartbeat; works through poolers that share sessions.
 */
export const LOCK_STRATEGIES = ['advisory', 'lease'] as const;
export type LockStrategy = (typeof LOCK_STRATEGIES)[number];
export const DEFAULT_LOCK_STRATEGY: LockStrategy = 'advisory';

/** Pending migrations with automatic migration off: serve and report them (`warn`), or refuse to serve. */
export const PENDING_POLICIES = ['warn', 'refuse'] as const;
export type PendingPolicy = (typeof PENDING_POLICIES)[number];
export const DEFAULT_PENDING_POLICY: PendingPolicy = 'warn';

/** A failed migration, lock timeout or drift: throw, or keep serving degraded and retry later. */
export const FAILURE_POLICIES = ['throw', 'degrade'] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];
export const DEFAULT_FAILURE_POLICY: FailurePolicy = 'throw';

/**
 * How `up` uses transactions: `each` migration in its own, with its record (a failure keeps what came
 * before), or `all` of them in one (a failure leaves nothing; refused where DDL cannot be rolled back).
 */
export const TRANSACTION_MODES = ['each', 'all'] as const;
export type TransactionMode = (typeof TRANSACTION_MODES)[number];
export const DEFAULT_TRANSACTION_MODE: TransactionMode = 'each';

/**
 * What lint findings do to a migration about to be applied: `error` refuses it when the service migrates
 * itself in production (and `mig up` warns), `warn` only warns, `off` lints nothing.
 */
export const LINT_MODES = ['error', 'warn', 'off'] as const;
export type LintMode = (typeof LINT_MODES)[number];
export const DEFAULT_LINT_MODE: LintMode = 'error';
