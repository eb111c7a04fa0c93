// The database service's public types, apart from its implementation so that its modules can use them
// without importing the façade (`../service.ts`).
import type { Clock } from '../clock.js';
import type { FailurePolicy, PendingPolicy } from '../defaults.js';
import type { Migrator } from '../migrator/types.js';
import type { Logger, StatusCache } from '../ports.js';
import type { MigrationStatus } from '../status.js';
import type { TelemetryOptions } from '../telemetry.js';
import type { ServiceState } from './state.js';

export interface DatabaseServiceOptions<Conn> extends TelemetryOptions {
  /** Opens the application's connection (e.g. a Kysely instance after a first round trip). */
  readonly connect: (signal: AbortSignal) => Promise<Conn>;
  /** Closes what `connect` opened; called by `close()`. */
  readonly disconnect?: ((conn: Conn) => Promise<void>) | undefined;
  /** Builds the migrator (source, store, lock) on the connection. */
  readonly migrator: (conn: Conn) => Migrator<unknown>;
  /** Status cache (`@mig/cache`); without one, the status is re-checked every `statusTtlMs`. */
  readonly cache?: StatusCache<MigrationStatus> | undefined;
  /** Apply pending migrations on first use. Default false: a library never migrates unless told to. */
  readonly autoMigrate?: boolean | undefined;
  /** Plan and log pending migrations; apply nothing, write nothing. */
  readonly dryRun?: boolean | undefined;
  /** Pending migrations with automatic migration off: serve and report (`warn`, default) or refuse. */
  readonly onPending?: PendingPolicy | undefined;
  /** A failed migration, lock timeout or drift: throw (default), or keep serving degraded and retry later. */
  readonly onFailure?: FailurePolicy | undefined;
  /** Longest wait for the migration lock; default the migrator's. */
  readonly lockTimeoutMs?: number | undefined;
  /** Longest wait for one connection attempt. Default 10 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** Connection attempts before giving up. Default 3. */
  readonly connectAttempts?: number | undefined;
  /**
   * Tells a connect failure that passes by itself (the server has too many clients, or is starting up) from
   * one that does not. A transient failure is retried with backoff without using up an attempt, for as long
   * as the connect budget lasts. Adapters provide one (`isTransientConnectionError` of @mig/kysely-adapter).
   */
  readonly isTransientConnectError?: ((error: unknown) => boolean) | undefined;
  /** Longest time connecting may take, transient retries included. Default connectTimeoutMs × connectAttempts. */
  readonly connectBudgetMs?: number | undefined;
  /** Backoff before retrying after a failure: doubles from `initialMs` up to `maxMs`. Default 1 s to 60 s. */
  readonly retryBackoff?: { readonly initialMs?: number; readonly maxMs?: number } | undefined;
  /** Never start migrating with less than this left of a call's time budget. Default 10 s. */
  readonly minMigrationTimeMs?: number | undefined;
  /**
   * Longest wait for a status check's answer, so a connection that hangs (a failover) cannot hold every
   * caller forever. Default 10 s.
   */
  readonly checkTimeoutMs?: number | undefined;
  /** Status freshness when no cache is given. Default 5 minutes. */
  readonly statusTtlMs?: number | undefined;
  /**
   * Warm up as soon as the service is created (see {@link DatabaseService.warm}): connect and check the
   * status in the background, filling the cache. It never migrates: the first `ensureInitialized()` does.
   */
  readonly warm?: boolean | undefined;
  /**
   * Called when a migration run is about to take the lock, and released when it let the lock go: what can
   * stop that run from outside the service (the edge's process signals, say). `stop` ends a wait and starts
   * no new migration; `interrupt` also stops the running one (rolled back where the engine can). The service
   * itself never reads the process: `@mig/service` passes its SIGTERM and SIGINT here.
   */
  readonly stops?: (() => RunStops) | undefined;
  /** After `close()` (or a `stop`), how long a running migration may go on before it is interrupted. Default 5 s. */
  readonly stopGraceMs?: number | undefined;
  /** The tenant this service is for (its own schema, database or file): in its state and spans. */
  readonly tenant?: string | undefined;
  /** How to name the database in messages, without secrets, e.g. "postgresql db.internal:5432/shop". */
  readonly target?: string | undefined;
  readonly logger?: Logger | undefined;
  /** The service's time: monotonic for TTLs and backoffs, epoch for timestamps. Injected in tests. */
  readonly clock?: Clock | undefined;
}

export interface EnsureOptions {
  /** Stops this caller's wait; a migration that already started is never interrupted. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Time this call may take (e.g. a serverless invocation's remaining time). Migrations are not started with
   * less than `minMigrationTimeMs` left, and the lock wait leaves that much for the migrations.
   */
  readonly timeBudgetMs?: number | undefined;
  /** With tenants (`createDatabase({ tenants })`): whose schema the Kysely instance works in. */
  readonly tenant?: string | undefined;
}

export interface DatabaseService<Conn> {
  /**
   * Connects, checks migrations and (by policy) applies them, once; resolves with the connection. Once
   * ready it answers at once: no I/O, no allocation. Concurrent first calls share one initialization; after
   * a failure the next call tries again, after a backoff.
   *
   * @example
   * app.get('/todos', async (c) => {
   *   const db = await database.ensureInitialized(); // first call migrates; then ~50 ns
   *   return c.json(await db.selectFrom('todos').selectAll().execute());
   * });
   */
  ensureInitialized(options?: EnsureOptions): Promise<Conn>;
  /**
   * Connects and checks the status in the background, filling the cache, so the first
   * `ensureInitialized()` finds it known. Never migrates, never rejects (a failure is logged, and the
   * first call tries again).
   */
  warm(): Promise<void>;
  /** The service's state, without I/O. */
  state(): ServiceState;
  /** Stops any wait, lets a running migration finish, and closes the connection. */
  close(): Promise<void>;
}

/** What can stop one migration run from outside (see `DatabaseServiceOptions.stops`). */
export interface RunStops {
  readonly stop: AbortSignal;
  readonly interrupt: AbortSignal;
  /** The run let the lock go: stop listening. */
  release(): void;
}
