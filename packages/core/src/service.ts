import { backoffDelay, type Clock, systemClock } from './clock.js';
import {
  DEFAULT_CHECK_TIMEOUT_MS,
  DEFAULT_CONNECT_ATTEMPTS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FAILURE_POLICY,
  DEFAULT_MIN_MIGRATION_TIME_MS,
  DEFAULT_PENDING_POLICY,
  DEFAULT_RETRY_BACKOFF,
  DEFAULT_STATUS_TTL_MS,
  type FailurePolicy,
  type PendingPolicy,
} from './defaults.js';
import {
  AbortedError,
  ConnectionError,
  describeThrown,
  ForeignHistoryError,
  isMigError,
  MigError,
  MigErrorCode,
  MigrationDriftError,
  type MigrationProblem,
  PendingMigrationsError,
  redactCredentials,
} from './errors.js';
import type { MigrationResult } from './internal/run-record.js';
import {
  initialServiceModel,
  type MigrationState,
  type ServiceAction,
  type ServiceModel,
  type ServicePhase,
  serviceReducer,
} from './internal/service-state.js';
import { type Migrator, statusCacheKey } from './migrator.js';
import { type ForeignHistorySummary, type Logger, type StatusCache, silentLogger } from './ports.js';
import type { MigrationStatus } from './status.js';
import {
  Attr,
  createMigrationMetrics,
  createTelemetry,
  errorType,
  type MigrationMetrics,
  markFailed,
  SpanName,
  type Telemetry,
  type TelemetryOptions,
  withSpan,
} from './telemetry.js';

export type { MigrationState, ServicePhase } from './internal/service-state.js';

/** Rest between background status checks after one failed. */
const BACKGROUND_RETRY_MS = 5_000;
/** Between connection attempts: from 200 ms, doubling, at most 5 s, with jitter so instances spread out. */
const CONNECT_BACKOFF = Object.freeze({ initialDelayMs: 200, maxDelayMs: 5_000, factor: 2, jitter: 0.3 });

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
}

/** The service as it is now; reading it does no I/O. */
export interface ServiceState {
  readonly phase: ServicePhase;
  /** `ensureInitialized()` resolves at once. */
  readonly serving: boolean;
  /** Serving, not degraded, and not refusing: what `/health` reports as 200. */
  readonly healthy: boolean;
  readonly migrations: MigrationState;
  readonly appliedCount: number | null;
  readonly pending: readonly string[];
  readonly problems: readonly MigrationProblem[];
  /** Migrations this process applied. */
  readonly appliedHere: readonly string[];
  /** The last dry run's plan. */
  readonly planned: readonly MigrationResult[];
  /**
   * Other migration tools' histories found in a database without mig records: nothing is applied until
   * they are adopted (or baselined).
   */
  readonly foreignHistories: readonly ForeignHistorySummary[];
  readonly lastCheck: {
    readonly at: string;
    readonly source: 'cache' | 'database';
    readonly durationMs: number;
  } | null;
  /** The last failure: its code, message (no secrets) and structured context, e.g. for advice at the edge. */
  readonly lastError: {
    readonly code: string;
    readonly message: string;
    readonly context: Readonly<Record<string, unknown>>;
    readonly at: string;
  } | null;
  readonly lockWaitMs: number | null;
  /** When a failed or degraded service tries again. */
  readonly retryAt: string | null;
  readonly policy: {
    readonly autoMigrate: boolean;
    readonly dryRun: boolean;
    readonly onPending: PendingPolicy;
    readonly onFailure: FailurePolicy;
  };
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

/**
 * Creates a database service: lazy initialization with migrations, for an application's `lib/database`.
 * Most services build it with one call instead (`createDatabase` of `@mig/config`); this is the hand-wired path.
 *
 * @example
 * export const database = createDatabaseService({
 *   connect: async () => { await sql`select 1`.execute(db); return db; },
 *   disconnect: (db) => db.destroy(),
 *   migrator: (db) => createMigrator({ source, store: adapter.store, lock: adapter.createLock() }),
 *   autoMigrate: true,
 * });
 * // in a handler:
 * const db = await database.ensureInitialized();
 */
export function createDatabaseService<Conn>(options: DatabaseServiceOptions<Conn>): DatabaseService<Conn> {
  return new DatabaseServiceImpl(options);
}

class DatabaseServiceImpl<Conn> implements DatabaseService<Conn> {
  readonly #options: Readonly<DatabaseServiceOptions<Conn>>;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry;
  readonly #metrics: MigrationMetrics;
  readonly #clock: Clock;
  readonly #closing = new AbortController();
  readonly #target: string;

  /** The one state value; changed only by #dispatch. */
  #model: ServiceModel = initialServiceModel;
  /** While serving: the fast path returns this very promise (kept in step with the model by #dispatch). */
  #serving: Promise<Conn> | undefined;
  // What the service holds rather than knows: the connection, what is built on it, and work in flight.
  #conn: Conn | undefined;
  #connecting: Promise<Conn> | undefined;
  #migrator: Migrator<unknown> | undefined;
  #cacheKey: string | undefined;
  #warming: Promise<void> | undefined;
  #inflight: Promise<Conn> | undefined;
  #revalidating: Promise<void> | undefined;

  constructor(options: DatabaseServiceOptions<Conn>) {
    this.#options = Object.freeze({ ...options });
    this.#logger = options.logger ?? silentLogger;
    this.#telemetry = createTelemetry(options);
    this.#metrics = createMigrationMetrics(this.#telemetry.meter);
    this.#clock = options.clock ?? systemClock;
    this.#target = redactCredentials(options.target ?? 'the database');
    if (options.warm) void this.warm();
  }

  get #policy() {
    const o = this.#options;
    return {
      autoMigrate: o.autoMigrate ?? false,
      dryRun: o.dryRun ?? false,
      onPending: o.onPending ?? DEFAULT_PENDING_POLICY,
      onFailure: o.onFailure ?? DEFAULT_FAILURE_POLICY,
    };
  }

  get #ttl(): number {
    return this.#options.cache?.ttlMs ?? this.#options.statusTtlMs ?? DEFAULT_STATUS_TTL_MS;
  }

  #dispatch(action: ServiceAction): void {
    this.#model = serviceReducer(this.#model, action);
    if (!this.#model.serving) this.#serving = undefined;
    else if (this.#serving === undefined && this.#conn !== undefined) this.#serving = Promise.resolve(this.#conn);
  }

  ensureInitialized(options?: EnsureOptions): Promise<Conn> {
    const serving = this.#serving;
    if (serving !== undefined) {
      if (this.#model.phase === 'ready' ? this.#fresh() : this.#clock.now() < this.#model.retryAt) return serving;
      this.#refreshInBackground();
      return serving;
    }
    return this.#initializeOnce(options);
  }

  /** The status is trusted: a cache hit or, without a cache, checked less than a TTL ago. */
  #fresh(): boolean {
    const { cache } = this.#options;
    return cache !== undefined && this.#cacheKey !== undefined
      ? cache.peek(this.#cacheKey) !== undefined
      : this.#clock.now() < this.#model.freshUntil;
  }

  #initializeOnce(options: EnsureOptions | undefined): Promise<Conn> {
    const model = this.#model;
    if (model.phase === 'closed') {
      return Promise.reject(new MigError(MigErrorCode.Aborted, 'The database service is closed; create a new one.'));
    }
    if (model.phase === 'failed' && this.#clock.now() < model.retryAt && model.lastError) {
      // Within the backoff after a failure: answer with the failure, without touching the database.
      return Promise.reject(model.lastError.error);
    }
    if (!this.#inflight) {
      const run = this.#initialize(options);
      this.#inflight = run;
      const settle = () => {
        if (this.#inflight === run) this.#inflight = undefined;
      };
      run.then(settle, settle);
    }
    return boundByCaller(this.#inflight, options?.signal);
  }

  #initialize(options: EnsureOptions | undefined): Promise<Conn> {
    this.#dispatch({ type: 'initialize' });
    const deadline = options?.timeBudgetMs === undefined ? undefined : this.#clock.now() + options.timeBudgetMs;
    const { autoMigrate, dryRun } = this.#policy;
    const attributes = { [Attr.AutoMigrate]: autoMigrate, [Attr.DryRun]: dryRun };
    return withSpan(this.#telemetry.tracer, SpanName.Initialize, attributes, async (span) => {
      try {
        const { conn, migrator, key } = await this.#prepared();
        const { target } = migrator;
        span.setAttributes({
          [Attr.DbSystem]: target.system,
          [Attr.DbNamespace]: target.namespace,
          [Attr.StoreTable]: target.table,
        });
        await this.#checkAndMigrate(migrator, key, deadline);
        // close() may have been called while this ran: a closed service never comes back to life.
        if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
        this.#dispatch({ type: 'ready' });
        span.setAttribute(Attr.Outcome, this.#model.migrations);
        return conn;
      } catch (error) {
        markFailed(span, error);
        return this.#fail(error);
      }
    });
  }

  /** The connection, the migrator built on it and the status cache key: made once, shared by every caller. */
  async #prepared(): Promise<{ conn: Conn; migrator: Migrator<unknown>; key: string }> {
    if (this.#conn === undefined) {
      this.#connecting ??= this.#connect().finally(() => {
        this.#connecting = undefined;
      });
      this.#conn = await this.#connecting;
    }
    const conn = this.#conn;
    this.#migrator ??= this.#options.migrator(conn);
    const migrator = this.#migrator;
    this.#cacheKey ??= await statusCacheKey(migrator);
    return { conn, migrator, key: this.#cacheKey };
  }

  warm(): Promise<void> {
    if (this.#warming) return this.#warming;
    if (this.#model.phase !== 'idle') return Promise.resolve();
    this.#warming = (async () => {
      try {
        const { migrator, key } = await this.#prepared();
        // Only the status: the first ensureInitialized() decides, by policy, what to do with it.
        const status = await this.#check(migrator, key, false);
        this.#logger.info(
          { state: status.state, pending: status.pending.length },
          `warmed up: migration status ${status.state}`,
        );
      } catch (error) {
        this.#logger.warn({ err: redactCredentials(describeThrown(error)) }, 'warming up the database service failed');
      }
    })();
    return this.#warming;
  }

  /**
   * Connects within `connectAttempts` failures and the connect budget. A transient failure (too many
   * clients: many instances starting at once) is retried with backoff and does not use up an attempt.
   */
  async #connect(): Promise<Conn> {
    return withSpan(this.#telemetry.tracer, SpanName.Connect, {}, async (span) => {
      const attempts = Math.max(1, this.#options.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS);
      const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      const budgetMs = this.#options.connectBudgetMs ?? timeoutMs * attempts;
      const started = this.#clock.now();
      let failures = 0;
      for (let tries = 1; ; tries++) {
        if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
        const left = budgetMs - (this.#clock.now() - started);
        const signal = AbortSignal.any([
          this.#closing.signal,
          AbortSignal.timeout(Math.max(1, Math.ceil(Math.min(timeoutMs, left)))),
        ]);
        try {
          return await this.#connectOnce(signal, timeoutMs);
        } catch (error) {
          const transient = this.#options.isTransientConnectError?.(error) === true;
          if (!transient) failures++;
          span.addEvent('mig.connect.failed', { attempt: tries, transient, [Attr.ErrorType]: errorType(error) });
          const elapsed = this.#clock.now() - started;
          const exhausted = failures >= attempts || elapsed >= budgetMs;
          this.#logger.warn(
            { target: this.#target, attempt: tries, transient, err: redactCredentials(describeThrown(error)) },
            transient
              ? `connecting to ${this.#target} failed for now (attempt ${tries}); retrying`
              : `connecting to ${this.#target} failed (attempt ${failures} of ${attempts})`,
          );
          if (exhausted) throw new ConnectionError(this.#target, tries, elapsed, error);
          const pause = Math.min(backoffDelay(tries, CONNECT_BACKOFF), Math.max(0, budgetMs - elapsed));
          await this.#clock.sleep(pause, this.#closing.signal);
        }
      }
    });
  }

  /**
   * One attempt, bounded by the timeout even if `connect` ignores its signal. A result that arrives late is
   * left alone: `connect` often returns one shared client (closing it would break every later attempt), and
   * a `connect` that opens something per attempt cleans it up when its signal aborts.
   */
  async #connectOnce(signal: AbortSignal, timeoutMs: number): Promise<Conn> {
    const connecting = this.#options.connect(signal);
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () =>
        reject(
          this.#closing.signal.aborted
            ? this.#closing.signal.reason
            : new Error(`no connection within the connect timeout of ${timeoutMs} ms`),
        );
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    connecting.catch(() => {
      // A late failure after the timeout was already reported as the timeout.
    });
    return Promise.race([connecting, aborted]);
  }

  /** The status, then by policy: serve, refuse, preview, or migrate. */
  async #checkAndMigrate(migrator: Migrator<unknown>, key: string, deadline: number | undefined): Promise<void> {
    // After a failure, read the database again rather than trust a cached status.
    const status = await this.#check(migrator, key, this.#model.failures > 0);
    if (status.state === 'up-to-date') {
      this.#dispatch({ type: 'judged', migrations: 'up-to-date' });
      if (status.ahead.length > 0) {
        this.#logger.warn(
          { ahead: status.ahead },
          `the database is ahead of this code: ${status.ahead.length} migration(s) applied by a newer version; serving`,
        );
      }
      return;
    }
    if (status.state === 'drifted') {
      this.#dispatch({ type: 'judged', migrations: 'drifted' });
      throw new MigrationDriftError(status.problems);
    }
    const { autoMigrate, dryRun, onPending } = this.#policy;
    if (status.appliedCount === 0) await this.#stopOverForeignHistory(migrator, onPending);
    if (this.#model.foreign.length > 0) return;
    if (dryRun) {
      const plan = await migrator.up({ dryRun: true });
      if (plan.error) throw plan.error;
      // The migrator logged the plan with its SQL; the state keeps it for /migrations and the like.
      this.#dispatch({ type: 'planned', planned: plan.results });
      return;
    }
    if (!autoMigrate) {
      this.#dispatch({ type: 'judged', migrations: 'pending' });
      this.#logger.warn(
        { code: MigErrorCode.Pending, pending: status.pending, policy: onPending },
        `${status.pending.length} migration(s) pending and automatic migration is off` +
          (onPending === 'refuse' ? '; refusing to serve' : '; serving anyway'),
      );
      if (onPending === 'refuse') throw new PendingMigrationsError(status.pending);
      return;
    }
    await this.#migrate(migrator, key, status, deadline);
  }

  /**
   * Pending with no mig records: another tool may have applied these migrations already. Its history puts
   * the service in "pending" (reported, never applied by itself), or refuses, by the pending policy.
   */
  async #stopOverForeignHistory(migrator: Migrator<unknown>, onPending: PendingPolicy): Promise<void> {
    const histories = await migrator.foreignHistories();
    if (histories.length === 0) return;
    this.#dispatch({ type: 'foreign-history', histories });
    const error = new ForeignHistoryError(histories);
    this.#logger.warn(
      { code: error.code, context: error.context, histories, policy: onPending },
      `${error.message}${onPending === 'refuse' ? ' Refusing to serve.' : ' Serving the schema as it is.'}`,
    );
    if (onPending === 'refuse') throw error;
  }

  /** Applies the pending migrations within the call's time budget (if it has one). */
  async #migrate(
    migrator: Migrator<unknown>,
    key: string,
    status: MigrationStatus,
    deadline: number | undefined,
  ): Promise<void> {
    const minTime = this.#options.minMigrationTimeMs ?? DEFAULT_MIN_MIGRATION_TIME_MS;
    // The run is shared by every caller waiting on it: one caller's signal ends only that caller's wait
    // (see boundByCaller), never the run. The budget of the call that started it does bound it.
    const signals = [this.#closing.signal];
    let lockTimeoutMs = this.#options.lockTimeoutMs;
    if (deadline !== undefined) {
      const left = deadline - this.#clock.now();
      if (left < minTime) {
        throw new AbortedError(
          `Not starting ${status.pending.length} pending migration(s) with ${Math.max(0, Math.round(left))} ms of the time budget left ` +
            `(at least ${minTime} ms needed); a call with more time will apply them`,
          'deadline too close',
        );
      }
      lockTimeoutMs = Math.min(lockTimeoutMs ?? Number.POSITIVE_INFINITY, left - minTime);
      signals.push(AbortSignal.timeout(Math.max(1, Math.floor(left))));
    }
    const result = await migrator.up({ signal: AbortSignal.any(signals), lockTimeoutMs });
    const applied = result.results.filter((r) => r.status === 'applied').map((r) => r.name);
    const failed = result.error !== undefined;
    if (failed) this.#options.cache?.invalidate(key);
    else if (result.status) this.#options.cache?.set(key, result.status);
    this.#dispatch({
      type: 'migrated',
      applied,
      lockWaitMs: result.lockWaitMs,
      failed,
      status: result.status,
      freshUntil: this.#clock.now() + this.#ttl,
    });
    if (result.error) throw result.error;
  }

  /** The status from the cache or, on a miss (or when `fresh`), from the database. */
  async #check(migrator: Migrator<unknown>, key: string, fresh: boolean): Promise<MigrationStatus> {
    const { cache } = this.#options;
    const started = this.#clock.now();
    if (fresh) cache?.invalidate(key);
    const read = () => bounded(migrator.status(), this.#checkTimeoutMs, 'The migration status check', this.#clock);
    const { value: status, cached } = cache ? await cache.get(key, read) : { value: await read(), cached: false };
    if (cached) {
      this.#metrics.statusChecked((this.#clock.now() - started) / 1000, true);
      await withSpan(this.#telemetry.tracer, SpanName.Check, { [Attr.StatusCached]: true }, async (span) => {
        span.setAttributes({ [Attr.StatusState]: status.state, [Attr.PendingCount]: status.pending.length });
      });
    }
    this.#dispatch({
      type: 'checked',
      status,
      source: cached ? 'cache' : 'database',
      durationMs: this.#clock.now() - started,
      epoch: this.#clock.epochNow(),
      freshUntil: this.#clock.now() + this.#ttl,
    });
    return status;
  }

  get #checkTimeoutMs(): number {
    return this.#options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  }

  /** Records a failed initialization; serves degraded when the policy allows, else rethrows. */
  #fail(error: unknown): Conn {
    const migError = isMigError(error)
      ? error
      : new MigError(
          MigErrorCode.Store,
          redactCredentials(`Initializing the database service failed: ${describeThrown(error)}`),
          { cause: error },
        );
    const epoch = this.#clock.epochNow();
    if (this.#closing.signal.aborted || migError.code === MigErrorCode.Aborted) {
      // Not a failure of the database: the next call, with its own budget, tries again at once.
      this.#dispatch({ type: 'gave-up', error: migError, epoch });
      throw migError;
    }
    const backoff = this.#options.retryBackoff ?? {};
    const delay = backoffDelay(this.#model.failures + 1, {
      initialDelayMs: backoff.initialMs ?? DEFAULT_RETRY_BACKOFF.initialMs,
      maxDelayMs: backoff.maxMs ?? DEFAULT_RETRY_BACKOFF.maxMs,
      factor: 2,
      jitter: 0,
    });
    const degraded =
      this.#conn !== undefined &&
      this.#policy.onFailure === 'degrade' &&
      migError.code !== MigErrorCode.Pending &&
      migError.code !== MigErrorCode.ConnectFailed;
    this.#logger.error(
      { err: migError.message, code: migError.code, context: migError.context, retryInMs: delay, degraded },
      degraded
        ? `database initialization failed; serving degraded, retrying in ${delay} ms`
        : `database initialization failed; retrying on a call after ${delay} ms`,
    );
    this.#dispatch({ type: 'failed', error: migError, epoch, retryAt: this.#clock.now() + delay, degraded });
    if (degraded) return this.#conn as Conn;
    throw migError;
  }

  /** Ready: re-check the status once it is stale. Degraded: try the migrations again. Never throws. */
  #refreshInBackground(): void {
    const model = this.#model;
    if (model.phase === 'degraded') {
      if (!this.#inflight) this.#initializeOnce(undefined).catch(() => {});
      return;
    }
    const migrator = this.#migrator;
    const key = this.#cacheKey;
    if (this.#revalidating || this.#clock.now() < model.restUntil || !migrator || key === undefined) return;
    this.#dispatch({ type: 'revalidating', freshUntil: this.#clock.now() + this.#ttl });
    this.#revalidating = this.#check(migrator, key, false)
      .then((status) => {
        this.#dispatch({ type: 'judged', migrations: status.state });
        if (status.state !== 'up-to-date') {
          // A ready service keeps serving: a newer deploy may have migrated ahead of this one.
          this.#logger.warn(
            {
              state: status.state,
              pending: status.pending,
              problems: status.problems.map((p) => `${p.kind}:${p.name}`),
            },
            `migration status changed to ${status.state} while serving`,
          );
        }
      })
      .catch((error: unknown) => {
        // Not again on the very next call: rest a little before the next background check.
        this.#dispatch({ type: 'revalidate-failed', restUntil: this.#clock.now() + BACKGROUND_RETRY_MS });
        this.#logger.warn({ err: redactCredentials(describeThrown(error)) }, 'background status check failed');
      })
      .finally(() => {
        this.#revalidating = undefined;
      });
  }

  state(): ServiceState {
    const model = this.#model;
    const { status } = model;
    const epochOf = (monotonic: number) => this.#clock.epochNow() + (monotonic - this.#clock.now());
    return Object.freeze({
      phase: model.phase,
      serving: model.serving,
      healthy: model.serving && model.phase === 'ready',
      migrations: model.migrations,
      appliedCount: status ? status.appliedCount : null,
      pending: status?.pending ?? [],
      problems: status?.problems ?? [],
      appliedHere: [...model.appliedHere],
      planned: model.planned,
      foreignHistories: model.foreign,
      lastCheck: model.lastCheck
        ? {
            at: new Date(model.lastCheck.epoch).toISOString(),
            source: model.lastCheck.source,
            durationMs: model.lastCheck.durationMs,
          }
        : null,
      lastError: model.lastError
        ? {
            code: model.lastError.error.code,
            message: model.lastError.error.message,
            context: model.lastError.error.context,
            at: new Date(model.lastError.epoch).toISOString(),
          }
        : null,
      lockWaitMs: model.lockWaitMs,
      retryAt:
        model.phase === 'failed' || model.phase === 'degraded'
          ? new Date(Math.max(this.#clock.epochNow(), epochOf(model.retryAt))).toISOString()
          : null,
      policy: this.#policy,
    });
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#dispatch({ type: 'closed' });
    this.#closing.abort(new AbortedError('Stopped: the database service was closed', 'close() was called'));
    await Promise.allSettled([this.#inflight, this.#revalidating, this.#warming]);
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined) await this.#options.disconnect?.(conn);
  }
}

/** The shared initialization, with this caller's own signal able to end this caller's wait. */
function boundByCaller<T>(shared: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return shared;
  if (signal.aborted) return Promise.reject(new AbortedError('Stopped waiting for the database', signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError('Stopped waiting for the database', signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    shared.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** `work`, or a Store error if it takes longer than `ms` (the work itself goes on; its result is dropped). */
function bounded<T>(work: Promise<T>, ms: number, what: string, clock: Clock): Promise<T> {
  let cancel = () => {};
  const timeout = new Promise<never>((_, reject) => {
    cancel = clock.schedule(ms, () =>
      reject(
        new MigError(MigErrorCode.Store, `${what} did not answer within ${ms} ms; is the database reachable?`, {
          context: { timeoutMs: ms },
        }),
      ),
    );
  });
  return Promise.race([work, timeout]).finally(() => cancel());
}
