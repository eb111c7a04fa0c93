import {
  AbortedError,
  ConnectionError,
  describeThrown,
  isMigError,
  MigError,
  MigErrorCode,
  MigrationDriftError,
  type MigrationProblem,
  PendingMigrationsError,
  redactCredentials,
} from './errors.js';
import { type MigrationResult, type MigrationStatus, type Migrator, statusCacheKey } from './migrator.js';
import { type Logger, type StatusCache, silentLogger } from './ports.js';
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

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_ATTEMPTS = 3;
export const DEFAULT_STATUS_TTL_MS = 5 * 60_000;
export const DEFAULT_MIN_MIGRATION_TIME_MS = 10_000;
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;
/** Rest between background status checks after one failed. */
const BACKGROUND_RETRY_MS = 5_000;

export type PendingPolicy = 'warn' | 'refuse';
export type FailurePolicy = 'throw' | 'degrade';

/** Where the service is: `ready` and `degraded` serve; `failed` refuses until its next retry. */
export type ServicePhase = 'idle' | 'initializing' | 'ready' | 'degraded' | 'failed' | 'closed';

/** What the service knows of the schema. */
export type MigrationState = 'unknown' | 'up-to-date' | 'pending' | 'applied' | 'dry-run' | 'drifted' | 'failed';

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
  readonly lockTimeoutMs?: number | undefined;
  /** Longest wait for one connection attempt. Default 10 s. */
  readonly connectTimeoutMs?: number | undefined;
  /** Connection attempts before giving up. Default 3. */
  readonly connectAttempts?: number | undefined;
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
  /** Start initializing in the background as soon as the service is created. */
  readonly warm?: boolean | undefined;
  /** How to name the database in messages, without secrets, e.g. "postgresql db.internal:5432/shop". */
  readonly target?: string | undefined;
  readonly logger?: Logger | undefined;
  /** Monotonic milliseconds; injected in tests. */
  readonly now?: (() => number) | undefined;
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
  readonly lastCheck: {
    readonly at: string;
    readonly source: 'cache' | 'database';
    readonly durationMs: number;
  } | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string } | null;
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
   */
  ensureInitialized(options?: EnsureOptions): Promise<Conn>;
  /** The service's state, without I/O. */
  state(): ServiceState;
  /** Stops any wait, lets a running migration finish, and closes the connection. */
  close(): Promise<void>;
}

/**
 * Creates a database service: lazy initialization with migrations, for an application's `lib/database`.
 *
 * @example
 * export const database = createDatabaseService({
 *   connect: async () => { await sql`select 1`.execute(db); return db; },
 *   disconnect: (db) => db.destroy(),
 *   migrator: (db) => createMigrator({ source, store: adapter.store, lock: adapter.createLock() }),
 *   autoMigrate: config.autoMigrate,
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
  readonly #now: () => number;
  readonly #closing = new AbortController();
  readonly #target: string;

  #phase: ServicePhase = 'idle';
  /** Set while serving: the fast path returns this very promise. */
  #serving: Promise<Conn> | undefined;
  #conn: Conn | undefined;
  #migrator: Migrator<unknown> | undefined;
  #cacheKey: string | undefined;
  #freshUntil = 0;
  /** After a failed background check, none starts again before this. */
  #restUntil = 0;
  #retryAt = 0;
  #failures = 0;
  #inflight: Promise<Conn> | undefined;
  #revalidating: Promise<void> | undefined;

  #migrations: MigrationState = 'unknown';
  #status: MigrationStatus | undefined;
  #appliedHere: string[] = [];
  #planned: readonly MigrationResult[] = [];
  #lastCheck: ServiceState['lastCheck'] = null;
  #lastError: { error: MigError; at: Date } | undefined;
  #lockWaitMs: number | null = null;

  constructor(options: DatabaseServiceOptions<Conn>) {
    this.#options = Object.freeze({ ...options });
    this.#logger = options.logger ?? silentLogger;
    this.#telemetry = createTelemetry(options);
    this.#metrics = createMigrationMetrics(this.#telemetry.meter);
    this.#now = options.now ?? (() => performance.now());
    this.#target = redactCredentials(options.target ?? 'the database');
    if (options.warm) {
      this.ensureInitialized().catch(() => {
        // Reported in state() and by the next call; warming must never raise an unhandled rejection.
      });
    }
  }

  ensureInitialized(options?: EnsureOptions): Promise<Conn> {
    const serving = this.#serving;
    if (serving !== undefined) {
      if (this.#phase === 'ready' ? this.#fresh() : this.#now() < this.#retryAt) return serving;
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
      : this.#now() < this.#freshUntil;
  }

  #checkTimeoutMs(): number {
    return this.#options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  }

  #ttl(): number {
    return this.#options.cache?.ttlMs ?? this.#options.statusTtlMs ?? DEFAULT_STATUS_TTL_MS;
  }

  #initializeOnce(options: EnsureOptions | undefined): Promise<Conn> {
    if (this.#phase === 'closed') {
      return Promise.reject(new MigError(MigErrorCode.Aborted, 'The database service is closed; create a new one.'));
    }
    if (this.#phase === 'failed' && this.#now() < this.#retryAt && this.#lastError) {
      // Within the backoff after a failure: answer with the failure, without touching the database.
      return Promise.reject(this.#lastError.error);
    }
    if (!this.#inflight) {
      const run = this.#initialize(options);
      this.#inflight = run;
      run.then(
        () => this.#settle(run),
        () => this.#settle(run),
      );
    }
    return boundByCaller(this.#inflight, options?.signal);
  }

  #settle(run: Promise<Conn>): void {
    if (this.#inflight === run) this.#inflight = undefined;
  }

  #initialize(options: EnsureOptions | undefined): Promise<Conn> {
    const wasServing = this.#serving !== undefined;
    if (!wasServing) this.#phase = 'initializing';
    const deadline = options?.timeBudgetMs === undefined ? undefined : this.#now() + options.timeBudgetMs;
    const attributes = {
      [Attr.AutoMigrate]: this.#options.autoMigrate === true,
      [Attr.DryRun]: this.#options.dryRun === true,
    };
    return withSpan(this.#telemetry.tracer, SpanName.Initialize, attributes, async (span) => {
      try {
        const conn = this.#conn ?? (await this.#connect());
        this.#conn = conn;
        this.#migrator ??= this.#options.migrator(conn);
        const migrator = this.#migrator;
        const target = migrator.target;
        span.setAttributes({
          [Attr.DbSystem]: target.system,
          [Attr.DbNamespace]: target.namespace,
          [Attr.StoreTable]: target.table,
        });
        this.#cacheKey ??= await statusCacheKey(migrator);
        await this.#checkAndMigrate(migrator, this.#cacheKey, deadline);
        // close() may have been called while this ran: a closed service never comes back to life.
        if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
        this.#failures = 0;
        this.#lastError = undefined;
        this.#phase = 'ready';
        this.#serving ??= Promise.resolve(conn);
        span.setAttribute(Attr.Outcome, this.#migrations);
        return conn;
      } catch (error) {
        markFailed(span, error);
        return this.#fail(error, wasServing);
      }
    });
  }

  async #connect(): Promise<Conn> {
    return withSpan(this.#telemetry.tracer, SpanName.Connect, {}, async (span) => {
      const attempts = Math.max(1, this.#options.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS);
      const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      const started = this.#now();
      let last: unknown;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
        const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(timeoutMs)]);
        try {
          return await this.#connectOnce(signal, timeoutMs);
        } catch (error) {
          last = error;
          span.addEvent('mig.connect.failed', { attempt, [Attr.ErrorType]: errorType(error) });
          this.#logger.warn(
            { target: this.#target, attempt, attempts, err: redactCredentials(describeThrown(error)) },
            `connecting to ${this.#target} failed (attempt ${attempt} of ${attempts})`,
          );
          if (attempt < attempts) await sleep(Math.min(5_000, 200 * 2 ** (attempt - 1)), this.#closing.signal);
        }
      }
      throw new ConnectionError(this.#target, attempts, this.#now() - started, last);
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

  async #checkAndMigrate(migrator: Migrator<unknown>, key: string, deadline: number | undefined): Promise<void> {
    // After a failure, read the database again rather than trust a cached status.
    const status = await this.#check(migrator, key, this.#failures > 0);
    if (status.state === 'up-to-date') {
      this.#migrations = this.#appliedHere.length > 0 ? 'applied' : 'up-to-date';
      if (status.ahead.length > 0) {
        this.#logger.warn(
          { ahead: status.ahead },
          `the database is ahead of this code: ${status.ahead.length} migration(s) applied by a newer version; serving`,
        );
      }
      return;
    }
    if (status.state === 'drifted') {
      this.#migrations = 'drifted';
      throw new MigrationDriftError(status.problems);
    }
    const { autoMigrate = false, dryRun = false, onPending = 'warn' } = this.#options;
    if (dryRun) {
      const plan = await migrator.up({ dryRun: true });
      if (plan.error) throw plan.error;
      // The migrator logged the plan with its SQL; the state keeps it for /migrations and the like.
      this.#planned = plan.results;
      this.#migrations = 'dry-run';
      return;
    }
    if (!autoMigrate) {
      this.#migrations = 'pending';
      this.#logger.warn(
        { pending: status.pending, policy: onPending },
        `${status.pending.length} migration(s) pending and automatic migration is off` +
          (onPending === 'refuse' ? '; refusing to serve' : '; serving anyway'),
      );
      if (onPending === 'refuse') throw new PendingMigrationsError(status.pending);
      return;
    }

    const minTime = this.#options.minMigrationTimeMs ?? DEFAULT_MIN_MIGRATION_TIME_MS;
    // The run is shared by every caller waiting on it: one caller's signal ends only that caller's wait
    // (see boundByCaller), never the run. The budget of the call that started it does bound it.
    const signals = [this.#closing.signal];
    let lockTimeoutMs = this.#options.lockTimeoutMs;
    if (deadline !== undefined) {
      const left = deadline - this.#now();
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
    this.#lockWaitMs = result.lockWaitMs;
    const applied = result.results.filter((r) => r.status === 'applied').map((r) => r.name);
    this.#appliedHere.push(...applied);
    if (result.error) {
      this.#options.cache?.invalidate(key);
      this.#migrations = 'failed';
      throw result.error;
    }
    if (result.status) this.#remember(key, result.status);
    // Another instance may have applied everything while this one waited for the lock.
    this.#migrations = this.#appliedHere.length > 0 ? 'applied' : 'up-to-date';
  }

  /** The status from the cache or, on a miss (or when `fresh`), from the database. */
  async #check(migrator: Migrator<unknown>, key: string, fresh: boolean): Promise<MigrationStatus> {
    const { cache } = this.#options;
    const started = this.#now();
    if (fresh) cache?.invalidate(key);
    let status: MigrationStatus;
    let cached = false;
    const read = () => bounded(migrator.status(), this.#checkTimeoutMs(), 'The migration status check');
    if (cache) {
      const lookup = await cache.get(key, read);
      status = lookup.value;
      cached = lookup.cached;
      if (cached) {
        this.#metrics.statusChecked((this.#now() - started) / 1000, true);
        await withSpan(this.#telemetry.tracer, SpanName.Check, { [Attr.StatusCached]: true }, async (span) => {
          span.setAttributes({ [Attr.StatusState]: status.state, [Attr.PendingCount]: status.pending.length });
        });
      }
    } else {
      status = await read();
    }
    this.#freshUntil = this.#now() + this.#ttl();
    this.#status = status;
    this.#lastCheck = {
      at: new Date().toISOString(),
      source: cached ? 'cache' : 'database',
      durationMs: this.#now() - started,
    };
    return status;
  }

  #remember(key: string, status: MigrationStatus): void {
    this.#status = status;
    this.#options.cache?.set(key, status);
    this.#freshUntil = this.#now() + this.#ttl();
  }

  #fail(error: unknown, wasServing: boolean): Conn {
    const migError = isMigError(error)
      ? error
      : new MigError(
          MigErrorCode.Store,
          redactCredentials(`Initializing the database service failed: ${describeThrown(error)}`),
          { cause: error },
        );
    this.#lastError = { error: migError, at: new Date() };
    if (this.#phase === 'closed' || this.#closing.signal.aborted) throw migError;
    const tooLate = migError.code === MigErrorCode.Aborted;
    if (tooLate) {
      // Not a failure of the database: the next call, with its own budget, tries again at once.
      if (!wasServing) this.#phase = 'idle';
      throw migError;
    }
    this.#failures++;
    const backoff = this.#options.retryBackoff ?? {};
    const delay = Math.min(backoff.maxMs ?? 60_000, (backoff.initialMs ?? 1_000) * 2 ** (this.#failures - 1));
    this.#retryAt = this.#now() + delay;
    const canServe =
      this.#conn !== undefined &&
      this.#options.onFailure === 'degrade' &&
      migError.code !== MigErrorCode.Pending &&
      migError.code !== MigErrorCode.ConnectFailed;
    this.#logger.error(
      { err: migError.message, code: migError.code, retryInMs: delay, degraded: canServe },
      canServe
        ? `database initialization failed; serving degraded, retrying in ${delay} ms`
        : `database initialization failed; retrying on a call after ${delay} ms`,
    );
    if (canServe) {
      this.#phase = 'degraded';
      this.#serving ??= Promise.resolve(this.#conn as Conn);
      return this.#conn as Conn;
    }
    this.#phase = 'failed';
    this.#serving = undefined;
    throw migError;
  }

  /** Ready: re-check the status once it is stale. Degraded: try the migrations again. Never throws. */
  #refreshInBackground(): void {
    if (this.#phase === 'degraded') {
      if (!this.#inflight) this.#initializeOnce(undefined).catch(() => {});
      return;
    }
    if (this.#revalidating || this.#now() < this.#restUntil || !this.#migrator || this.#cacheKey === undefined) return;
    const migrator = this.#migrator;
    const key = this.#cacheKey;
    this.#freshUntil = this.#now() + this.#ttl();
    this.#revalidating = this.#check(migrator, key, false)
      .then((status) => {
        this.#migrations =
          status.state === 'up-to-date' ? (this.#appliedHere.length > 0 ? 'applied' : 'up-to-date') : status.state;
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
        this.#restUntil = this.#now() + BACKGROUND_RETRY_MS;
        this.#logger.warn({ err: redactCredentials(describeThrown(error)) }, 'background status check failed');
      })
      .finally(() => {
        this.#revalidating = undefined;
      });
  }

  state(): ServiceState {
    const status = this.#status;
    const { autoMigrate = false, dryRun = false, onPending = 'warn', onFailure = 'throw' } = this.#options;
    const serving = this.#serving !== undefined;
    return Object.freeze({
      phase: this.#phase,
      serving,
      healthy: serving && this.#phase === 'ready',
      migrations: this.#migrations,
      appliedCount: status ? status.appliedCount : null,
      pending: status?.pending ?? [],
      problems: status?.problems ?? [],
      appliedHere: [...this.#appliedHere],
      planned: this.#planned,
      lastCheck: this.#lastCheck,
      lastError: this.#lastError
        ? {
            code: this.#lastError.error.code,
            message: this.#lastError.error.message,
            at: this.#lastError.at.toISOString(),
          }
        : null,
      lockWaitMs: this.#lockWaitMs,
      retryAt:
        this.#phase === 'failed' || this.#phase === 'degraded'
          ? new Date(Date.now() + Math.max(0, this.#retryAt - this.#now())).toISOString()
          : null,
      policy: { autoMigrate, dryRun, onPending, onFailure },
    });
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#phase = 'closed';
    this.#serving = undefined;
    this.#closing.abort(new AbortedError('Stopped: the database service was closed', 'close() was called'));
    await Promise.allSettled([this.#inflight, this.#revalidating]);
    this.#phase = 'closed';
    this.#serving = undefined;
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
function bounded<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MigError(MigErrorCode.Store, `${what} did not answer within ${ms} ms; is the database reachable?`, {
            context: { timeoutMs: ms },
          }),
        ),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** A wait someone awaits (between connection attempts): a plain timer, cut short by `signal`. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
