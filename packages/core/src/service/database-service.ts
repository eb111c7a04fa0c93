// The database service's lifecycle: lazy, single-flight initialization, the ready fast path, background
// re-checks, failures and close. It holds the connection and the work in flight and one state model,
// changed only through the reducer (./state.ts); it carries out what the policy (./policy.ts) decides,
// and leaves connecting to the connector (./connector.ts).
import type { Attributes, Tracer } from '@opentelemetry/api';
import { type Clock, systemClock } from '../clock.js';
import {
  DEFAULT_CHECK_TIMEOUT_MS,
  DEFAULT_CONNECT_ATTEMPTS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MIN_MIGRATION_TIME_MS,
  DEFAULT_STATUS_TTL_MS,
  DEFAULT_STOP_GRACE_MS,
} from '../defaults.js';
import {
  AbortedError,
  describeThrown,
  ForeignHistoryError,
  isMigError,
  MigError,
  MigErrorCode,
  MigrationDriftError,
  PendingMigrationsError,
} from '../errors.js';
import { boundByCaller } from '../internal/bounds.js';
import type { MigrationRunResult, Migrator } from '../migrator/types.js';
import { statusCacheKey } from '../migrator.js';
import { type ForeignHistorySummary, type Logger, silentLogger } from '../ports.js';
import type { MigrationStatus } from '../status.js';
import { Attr, createMigrationMetrics, createTelemetry, markFailed, SpanName, withSpan } from '../telemetry.js';
import { redactCredentials } from '../url.js';
import { Connector } from './connector.js';
import { type Decision, decide, decideFailure, resolvePolicy, type ServicePolicy } from './policy.js';
import { afterGrace, disconnectWithin, runLimits } from './run-stops.js';
import {
  initialServiceModel,
  type ServiceAction,
  type ServiceModel,
  type ServiceState,
  serviceReducer,
  viewServiceState,
} from './state.js';
import { checkStatus, type StatusCheckOptions } from './status-check.js';
import type { DatabaseService, DatabaseServiceOptions, EnsureOptions } from './types.js';

/** Rest between background status checks after one failed. */
const BACKGROUND_RETRY_MS = 5_000;

/** A status check the policy decided on, and what carrying the decision out needs. */
interface Checked {
  readonly migrator: Migrator<unknown>;
  readonly key: string;
  readonly status: MigrationStatus;
  /** The end of the calling call's time budget, on the service clock. */
  readonly deadline: number | undefined;
}

/** See {@link DatabaseService}; created by `createDatabaseService`. */
export class DatabaseServiceImpl<Conn> implements DatabaseService<Conn> {
  readonly #options: Readonly<DatabaseServiceOptions<Conn>>;
  readonly #policy: ServicePolicy;
  readonly #logger: Logger;
  readonly #tracer: Tracer;
  readonly #statusCheck: StatusCheckOptions;
  readonly #clock: Clock;
  readonly #closing = new AbortController();
  /** Aborted a grace period after close(): a migration still running then is stopped too. */
  readonly #closed = new AbortController();
  #closeRun: Promise<void> | undefined;
  readonly #connector: Connector<Conn>;

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
    this.#policy = resolvePolicy(options);
    this.#logger = options.logger ?? silentLogger;
    const telemetry = createTelemetry(options);
    this.#tracer = telemetry.tracer;
    this.#clock = options.clock ?? systemClock;
    this.#statusCheck = Object.freeze({
      cache: options.cache,
      timeoutMs: options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS,
      clock: this.#clock,
      tracer: this.#tracer,
      metrics: createMigrationMetrics(telemetry.meter),
    });
    this.#connector = this.#createConnector();
    if (options.warm) void this.warm();
  }

  #createConnector(): Connector<Conn> {
    const o = this.#options;
    const attempts = Math.max(1, o.connectAttempts ?? DEFAULT_CONNECT_ATTEMPTS);
    const timeoutMs = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Connector({
      connect: (signal) => o.connect(signal),
      attempts,
      timeoutMs,
      budgetMs: o.connectBudgetMs ?? timeoutMs * attempts,
      isTransient: (error) => o.isTransientConnectError?.(error) === true,
      stop: this.#closing.signal,
      target: redactCredentials(o.target ?? 'the database'),
      clock: this.#clock,
      logger: this.#logger,
      tracer: this.#tracer,
    });
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
    const attributes: Attributes = { [Attr.AutoMigrate]: autoMigrate, [Attr.DryRun]: dryRun };
    if (this.#options.tenant !== undefined) attributes[Attr.Tenant] = this.#options.tenant;
    return withSpan(this.#tracer, SpanName.Initialize, attributes, async (span) => {
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
      this.#connecting ??= this.#connector.connect().finally(() => {
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

  /** The status, then what the policy decides: serve, refuse, preview, or migrate. */
  async #checkAndMigrate(migrator: Migrator<unknown>, key: string, deadline: number | undefined): Promise<void> {
    // After a failure, read the database again rather than trust a cached status.
    const status = await this.#check(migrator, key, this.#model.failures > 0);
    await this.#carryOut(decide(status, this.#policy, { known: this.#model.foreign }), {
      migrator,
      key,
      status,
      deadline,
    });
  }

  /** Carries out the policy's decision: the state, a log line, and the run or the error it calls for. */
  async #carryOut(decision: Decision, checked: Checked): Promise<void> {
    const { migrator, status } = checked;
    switch (decision.kind) {
      case 'serve':
        this.#dispatch({ type: 'judged', migrations: 'up-to-date' });
        if (decision.ahead.length > 0) {
          this.#logger.warn(
            { ahead: decision.ahead },
            `the database is ahead of this code: ${decision.ahead.length} migration(s) applied by a newer version; serving`,
          );
        }
        return;
      case 'drift':
        this.#dispatch({ type: 'judged', migrations: 'drifted' });
        throw new MigrationDriftError(decision.problems);
      case 'look-for-foreign': {
        const found = await migrator.foreignHistories();
        // With `found` given, the policy decides on: it never asks for the look twice.
        return this.#carryOut(decide(status, this.#policy, { found, known: this.#model.foreign }), checked);
      }
      case 'foreign':
        return this.#reportForeignHistory(decision.histories, decision.refuse);
      case 'keep':
        return;
      case 'dry-run': {
        const plan = await migrator.up({ dryRun: true });
        if (plan.error) throw plan.error;
        // The migrator logged the plan with its SQL; the state keeps it for /migrations and the like.
        this.#dispatch({ type: 'planned', planned: plan.results });
        return;
      }
      case 'pending':
        this.#dispatch({ type: 'judged', migrations: 'pending' });
        this.#logger.warn(
          { code: MigErrorCode.Pending, pending: decision.pending, policy: this.#policy.onPending },
          `${decision.pending.length} migration(s) pending and automatic migration is off` +
            (decision.refuse ? '; refusing to serve' : '; serving anyway'),
        );
        if (decision.refuse) throw new PendingMigrationsError(decision.pending);
        return;
      case 'migrate':
        return this.#migrate(checked);
    }
  }

  /**
   * Pending with no mig records, and another tool's history there: these migrations may have been applied
   * already. The service reports it ("pending", never applied by itself), and serves or refuses by policy.
   */
  #reportForeignHistory(histories: readonly ForeignHistorySummary[], refuse: boolean): void {
    this.#dispatch({ type: 'foreign-history', histories });
    const error = new ForeignHistoryError(histories);
    this.#logger.warn(
      { code: error.code, context: error.context, histories, policy: this.#policy.onPending },
      `${error.message}${refuse ? ' Refusing to serve.' : ' Serving the schema as it is.'}`,
    );
    if (refuse) throw error;
  }

  /** Applies the pending migrations within the call's time budget (if it has one). */
  async #migrate({ migrator, key, status, deadline }: Checked): Promise<void> {
    const limits = runLimits({
      closing: this.#closing.signal,
      closed: this.#closed.signal,
      stops: this.#options.stops,
      lockTimeoutMs: this.#options.lockTimeoutMs,
      deadline,
      minMigrationTimeMs: this.#options.minMigrationTimeMs ?? DEFAULT_MIN_MIGRATION_TIME_MS,
      pending: status.pending.length,
      clock: this.#clock,
    });
    let result: MigrationRunResult;
    try {
      result = await migrator.up({
        signal: limits.signal,
        interrupt: limits.interrupt,
        lockTimeoutMs: limits.lockTimeoutMs,
      });
    } finally {
      limits.release();
    }
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

  /** The status from the cache or, on a miss (or when `fresh`), from the database; kept in the state. */
  async #check(migrator: Migrator<unknown>, key: string, fresh: boolean): Promise<MigrationStatus> {
    const { status, source, durationMs } = await checkStatus(this.#statusCheck, migrator, key, fresh);
    this.#dispatch({
      type: 'checked',
      status,
      source,
      durationMs,
      epoch: this.#clock.epochNow(),
      freshUntil: this.#clock.now() + this.#ttl,
    });
    return status;
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
    const decision = decideFailure(migError, this.#policy, {
      failures: this.#model.failures,
      connected: this.#conn !== undefined,
      closing: this.#closing.signal.aborted,
      backoff: this.#options.retryBackoff,
    });
    if (decision.kind === 'give-up') {
      // Not a failure of the database: the next call, with its own budget, tries again at once.
      this.#dispatch({ type: 'gave-up', error: migError, epoch });
      throw migError;
    }
    const { degraded, delayMs: delay } = decision;
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
    const state = viewServiceState(this.#model, this.#policy, this.#clock);
    return this.#options.tenant === undefined ? state : Object.freeze({ ...state, tenant: this.#options.tenant });
  }

  close(): Promise<void> {
    this.#closeRun ??= this.#close();
    return this.#closeRun;
  }

  async #close(): Promise<void> {
    this.#dispatch({ type: 'closed' });
    const reason = new AbortedError('Stopped: the database service was closed', 'close() was called');
    this.#closing.abort(reason);
    // A running migration gets a grace period to finish; then it is stopped too, and the lock let go.
    await afterGrace(
      Promise.allSettled([this.#inflight, this.#revalidating, this.#warming]),
      this.#options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
      () => this.#closed.abort(reason),
      this.#clock,
    );
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn !== undefined && this.#options.disconnect) {
      await disconnectWithin(this.#options.disconnect(conn), this.#clock, this.#logger);
    }
  }
}
