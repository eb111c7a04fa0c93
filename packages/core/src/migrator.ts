import type { Attributes, Span } from '@opentelemetry/api';
import { DEFAULT_LOCK_TIMEOUT_MS } from './defaults.js';
import {
  AbortedError,
  describeHolder,
  describeThrown,
  ForeignHistoryError,
  isMigError,
  MigError,
  MigErrorCode,
  type MigrationDirection,
  MigrationFailedError,
} from './errors.js';
import {
  type AdoptedHistory,
  planAdoption,
  planBaseline,
  planRepair,
  type RepairChange,
} from './internal/history-plan.js';
import {
  type MigrationResult,
  type MigrationRunResult,
  type RunProgress,
  RunRecord,
  safeProgress,
  toMigError,
} from './internal/run-record.js';
import { downTargets, loadModules, upTargets } from './internal/targets.js';
import { EMPTY_HEAD, type Migration, type MigrationModule, type MigrationSource } from './migration.js';
import { LocalHistory, planMigrations } from './planner.js';
import type {
  AppliedMigration,
  ApplyOptions,
  ForeignHistorySummary,
  LockLease,
  LockWait,
  Logger,
  MigrationLock,
  MigrationStore,
  StoreHead,
  StoreTarget,
} from './ports.js';
import { silentLogger } from './ports.js';
import { type MigrationInspection, type MigrationStatus, statusOf } from './status.js';
import {
  Attr,
  createMigrationMetrics,
  createTelemetry,
  type MigrationMetrics,
  SpanName,
  type Telemetry,
  type TelemetryOptions,
  withSpan,
} from './telemetry.js';

export interface RunOptions {
  /** `up`: apply up to and including this migration. `down`: revert every migration applied after it. */
  readonly to?: string | undefined;
  /** `down` only: revert every applied migration. */
  readonly all?: boolean | undefined;
  /** Plan and preview; write nothing at all (not even mig's own tables). */
  readonly dryRun?: boolean | undefined;
  /** Stops before the next migration starts; a running migration is never interrupted. */
  readonly signal?: AbortSignal | undefined;
  /** Longest wait for the lock; overrides the migrator's `lockTimeoutMs`. */
  readonly lockTimeoutMs?: number | undefined;
  /** Called as the run progresses: lock waits, each migration's start and end (for a CLI's output). */
  readonly onProgress?: ((event: RunProgress) => void) | undefined;
  /**
   * `up` on a database with no mig records but another tool's history refuses (`ForeignHistoryError`): those
   * migrations may have been applied already. True applies anyway, for a database where that history is
   * about something else.
   */
  readonly allowForeignHistory?: boolean | undefined;
}

/** Options of adopt, baseline and repair: they write records only, under the lock. */
export interface HistoryOptions {
  /** Say what would be written; write nothing at all (not even mig's own tables), take no lock. */
  readonly dryRun?: boolean | undefined;
  readonly lockTimeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Lock waits, for a CLI's output. */
  readonly onProgress?: ((event: RunProgress) => void) | undefined;
}

/** One record an adopt, baseline or repair writes (or, in a dry run, would write). */
export type HistoryChange =
  | { readonly kind: 'record'; readonly name: string; readonly checksum: string }
  | RepairChange;

/** The outcome of adopt, baseline or repair; like `up`, never thrown: `error` says why it stopped. */
export interface HistoryResult {
  readonly operation: 'adopt' | 'baseline' | 'repair';
  readonly dryRun: boolean;
  /** What was written (or would be, in a dry run); empty when there was nothing to do. */
  readonly changes: readonly HistoryChange[];
  readonly error?: MigError | undefined;
  readonly lockWaitMs: number;
  /** The status afterwards (not in a dry run). */
  readonly status?: MigrationStatus | undefined;
}

/**
 * What a migrator is built from. `F` ties the lock to the store: the lock's fences must be ones the store
 * checks, or the call does not compile.
 */
export interface MigratorOptions<Db = unknown, F = undefined> extends TelemetryOptions {
  /** Where migrations come from: a folder, an in-code list. */
  readonly source: MigrationSource<Db>;
  /** Where applied migrations are recorded. */
  readonly store: MigrationStore<Db, F>;
  /**
   * The lock that keeps concurrent runners apart. Without one, concurrent runners still never record a
   * migration twice (the store's compare-and-swap on its head), but the losers fail.
   */
  readonly lock?: MigrationLock<NoInfer<F>> | undefined;
  /** Longest wait for the lock. Default 30 s. */
  readonly lockTimeoutMs?: number | undefined;
  readonly logger?: Logger | undefined;
}

/** Plans from a source and a store, and applies or reverts under a lock. Create one with {@link createMigrator}. */
export interface Migrator<Db = unknown> {
  /** The store's target: what database and table this migrator works on (no secrets). */
  readonly target: StoreTarget;
  /** Loads (once) and returns the local migrations. */
  local(): Promise<readonly Migration<Db>[]>;
  /** The head digest the local migrations lead to (computed once, when they are loaded). */
  localDigest(): Promise<string>;
  /**
   * Whether migrations are pending: one round trip when the store's head matches the local history, and a
   * read of every record only when it does not. Never writes, never locks.
   *
   * @example
   * const status = await migrator.status();
   * if (status.state === 'pending') console.log(`${status.pending.length} pending: ${status.pending.join(', ')}`);
   */
  status(): Promise<MigrationStatus>;
  /** Reads every applied record and compares them with the local migrations (for listings and verification). */
  inspect(): Promise<MigrationInspection<Db>>;
  /**
   * Applies pending migrations (up to and including `to`) under the lock, each in its own transaction with
   * its record. Never throws: the result has one entry per migration considered, and `error` when it stopped.
   *
   * @example
   * const { results, error } = await migrator.up({ lockTimeoutMs: 60_000 });
   * for (const r of results) console.log(r.status, r.name);
   * if (error) throw error;
   */
  up(options?: RunOptions): Promise<MigrationRunResult>;
  /**
   * Reverts the latest applied migration, every one applied after `to`, or `all`, under the lock. Never
   * throws, as `up`. Refuses migrations without a down before reverting anything.
   *
   * @example
   * const { error } = await migrator.down({ to: '20260101000000_create_todos' });
   * if (error) throw error;
   */
  down(options?: RunOptions): Promise<MigrationRunResult>;
  /**
   * Records another tool's applied migrations as applied, with the checksums of the files as they are now,
   * running nothing and leaving the other tool's tables as they are. Refuses (naming each case, recording
   * nothing) when that history and the folder disagree. Safe to repeat.
   *
   * @example
   * const history = await readForeignHistory(db, 'kysely'); // @mig/kysely-adapter
   * const { changes, error } = await migrator.adopt({ history });
   */
  adopt(options: HistoryOptions & { readonly history: AdoptedHistory }): Promise<HistoryResult>;
  /**
   * Records every migration up to and including `to` as applied without running it, for a database whose
   * schema was made by other means. Refuses when mig has records, unless they are exactly these.
   *
   * @example
   * await migrator.baseline({ to: '20260101000000_create_todos' });
   */
  baseline(options: HistoryOptions & { readonly to: string }): Promise<HistoryResult>;
  /**
   * Accepts intentional edits of applied migrations: their recorded checksums become the files' current
   * ones (the old ones kept in the record's `repairs`). With `forget`, instead removes the one record of a
   * deleted file. Never touches a pending migration.
   *
   * @example
   * const { changes } = await migrator.repair({ dryRun: true }); // what would change
   */
  repair(options?: HistoryOptions & { readonly forget?: string | undefined }): Promise<HistoryResult>;
  /** Other migration tools' histories in the database (non-empty ones). */
  foreignHistories(): Promise<readonly ForeignHistorySummary[]>;
}

/**
 * The status cache key of a migrator: the database and table (no secrets) and the digest of the local
 * migration set, so two services in one process, or two deploys, never share a status.
 */
export async function statusCacheKey(migrator: Migrator<unknown>): Promise<string> {
  const { system, server, namespace, table } = migrator.target;
  return `${system}://${server}/${namespace}/${table}#${await migrator.localDigest()}`;
}

/**
 * Creates a migrator: plans from a source and a store and applies under a lock.
 *
 * @example
 * const migrator = createMigrator({ source, store: adapter.store, lock: adapter.createLock() });
 * const { results, error } = await migrator.up();
 * if (error) throw error;
 */
export function createMigrator<Db, F = undefined>(options: MigratorOptions<Db, F>): Migrator<Db> {
  return new MigratorImpl(options);
}

/** Under the lock: the store bound to it, and the migrations to run there. */
interface LockedWork<Db, F> {
  readonly store: MigrationStore<Db, F>;
  readonly targets: readonly Migration<Db>[];
  /** The head the plan read, if it read one (an `up` does). */
  readonly head?: StoreHead | undefined;
}

class MigratorImpl<Db, F> implements Migrator<Db> {
  readonly #options: Readonly<MigratorOptions<Db, F>>;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry;
  readonly #metrics: MigrationMetrics;
  #history: Promise<LocalHistory<Db>> | undefined;

  constructor(options: MigratorOptions<Db, F>) {
    this.#options = Object.freeze({ ...options });
    this.#logger = options.logger ?? silentLogger;
    this.#telemetry = createTelemetry(options);
    this.#metrics = createMigrationMetrics(this.#telemetry.meter);
  }

  get target(): StoreTarget {
    return this.#options.store.target;
  }

  get #lockTimeoutMs(): number {
    return this.#options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  async local(): Promise<readonly Migration<Db>[]> {
    return (await this.#localHistory()).migrations;
  }

  async localDigest(): Promise<string> {
    return (await this.#localHistory()).digest;
  }

  #localHistory(): Promise<LocalHistory<Db>> {
    if (!this.#history) {
      const loading = this.#options.source.load().then((list) => new LocalHistory(list));
      // A failed load is not kept: the next call reads the source again.
      loading.catch(() => {
        if (this.#history === loading) this.#history = undefined;
      });
      this.#history = loading;
    }
    return this.#history;
  }

  #storeAttributes(): Attributes {
    const { target } = this.#options.store;
    const attributes: Attributes = {
      [Attr.DbSystem]: target.system,
      [Attr.DbNamespace]: target.namespace,
      [Attr.StoreTable]: target.table,
    };
    const host = /^(.+):\d+$/.exec(target.server)?.[1];
    if (host) attributes[Attr.ServerAddress] = host;
    return attributes;
  }

  async status(): Promise<MigrationStatus> {
    const history = await this.#localHistory();
    return withSpan(this.#telemetry.tracer, SpanName.Check, this.#storeAttributes(), async (span) => {
      const started = performance.now();
      const status = await this.#readStatus(history);
      this.#metrics.statusChecked((performance.now() - started) / 1000, false);
      span.setAttributes({
        [Attr.StatusState]: status.state,
        [Attr.StatusVia]: status.via,
        [Attr.StatusCached]: false,
        [Attr.PendingCount]: status.pending.length,
        [Attr.AppliedCount]: status.appliedCount,
      });
      return status;
    });
  }

  async #readStatus(history: LocalHistory<Db>, store: MigrationStore<Db, F> = this.#options.store) {
    const head = await store.readHead();
    const effective = head ?? EMPTY_HEAD;
    const pending = history.pendingAfter(effective);
    if (pending) return statusOf(history, head, effective.count, { pending, problems: [], ahead: [] }, 'head');
    const applied = await store.readApplied();
    return statusOf(history, head, applied.length, planMigrations(history.migrations, applied), 'records');
  }

  async inspect(): Promise<MigrationInspection<Db>> {
    const history = await this.#localHistory();
    // One after the other, on one connection: a pool with a single connection must not wait on itself.
    const applied = await this.#options.store.readApplied();
    const head = await this.#options.store.readHead();
    const plan = planMigrations(history.migrations, applied);
    const matches = head !== null && history.pendingAfter(head) !== undefined;
    return {
      status: statusOf(history, head, applied.length, plan, matches ? 'head' : 'records'),
      applied,
      local: history.migrations,
      leftovers: plan.pending.length > 0 ? await this.#options.store.leftovers(plan.pending) : [],
    };
  }

  up(options: RunOptions = {}): Promise<MigrationRunResult> {
    return this.#run('up', options);
  }

  down(options: RunOptions = {}): Promise<MigrationRunResult> {
    return this.#run('down', options);
  }

  adopt(options: HistoryOptions & { readonly history: AdoptedHistory }): Promise<HistoryResult> {
    const { history: adopted } = options;
    return this.#rewriteHistory('adopt', options, (history, records) => {
      const record = planAdoption(history, records, adopted);
      return {
        changes: record.map((m) => ({ kind: 'record', name: m.name, checksum: m.checksum })),
        write: (store, at) =>
          store.record(record, {
            ...at,
            origin: 'adopted',
            adoptedFrom: adopted.tool,
            runnable: adopted.runnable,
          }),
      };
    });
  }

  baseline(options: HistoryOptions & { readonly to: string }): Promise<HistoryResult> {
    return this.#rewriteHistory('baseline', options, (history, records) => {
      const record = planBaseline(history, records, options.to);
      return {
        changes: record.map((m) => ({ kind: 'record', name: m.name, checksum: m.checksum })),
        write: (store, at) => store.record(record, { ...at, origin: 'baseline', runnable: true }),
      };
    });
  }

  repair(options: HistoryOptions & { readonly forget?: string | undefined } = {}): Promise<HistoryResult> {
    return this.#rewriteHistory('repair', options, (history, records) => {
      const { rewrite, changes } = planRepair(history, records, options.forget);
      return { changes, write: (store, at) => store.rewrite(rewrite, at) };
    });
  }

  foreignHistories(): Promise<readonly ForeignHistorySummary[]> {
    return this.#options.store.foreignHistories();
  }

  /**
   * Adopt, baseline and repair: plan from the records (under the lock, read again there), write them in one
   * store transaction, release. A dry run plans from the records as they are, takes no lock, writes nothing.
   */
  async #rewriteHistory(
    operation: HistoryResult['operation'],
    options: HistoryOptions,
    plan: (history: LocalHistory<Db>, records: readonly AppliedMigration[]) => HistoryPlan<Db, F>,
  ): Promise<HistoryResult> {
    const waiter: LockWaiter = { progress: safeProgress(options.onProgress, this.#logger), lockWaitMs: 0 };
    const result = (rest: Omit<HistoryResult, 'operation' | 'dryRun' | 'lockWaitMs'>): HistoryResult => ({
      operation,
      dryRun: options.dryRun === true,
      lockWaitMs: waiter.lockWaitMs,
      ...rest,
    });
    let lease: LockLease<F> | undefined;
    try {
      const history = await this.#localHistory();
      if (options.dryRun) return result({ changes: plan(history, await this.#options.store.readApplied()).changes });
      throwIfAborted(options.signal, `Stopped before the ${operation} started`);
      const { lock } = this.#options;
      let store = this.#options.store;
      if (!lock || lock.livesInStore) await store.prepare();
      if (lock) {
        lease = await this.#acquire(waiter, lock, options);
        store = store.bind((lease as LockLease<F>).fence);
        if (!lock.livesInStore) await store.prepare();
      }
      const { changes, write } = plan(history, await store.readApplied());
      if (changes.length > 0) {
        const expectedHead = (await store.readHead()) ?? EMPTY_HEAD;
        await withSpan(this.#telemetry.tracer, SpanName.Record, this.#storeAttributes(), () =>
          write(store, { fence: lease?.fence, expectedHead }),
        );
        this.#logger.info({ operation, changes: changes.length }, `${operation}: ${changes.length} record(s) written`);
      }
      return result({ changes, status: await this.#readStatus(history, store) });
    } catch (error) {
      return result({ changes: [], error: toMigError(error, this.#options.store.target.table) });
    } finally {
      if (lease) await this.#release(lease);
    }
  }

  /** plan → (preview | acquire and re-plan → apply each) → release. Every phase below is one method. */
  async #run(direction: MigrationDirection, options: RunOptions): Promise<MigrationRunResult> {
    const run = new RunRecord(direction, options, this.#logger, this.#options.store.target.table);
    let lease: LockLease<F> | undefined;
    try {
      const history = await this.#localHistory();
      const { targets: planned, status } = await this.#plan(run, history, options);
      // Nothing to do: the status the plan read is the answer (one round trip for a no-op up).
      if (planned.length === 0) return run.finish(undefined, status ?? (await this.#statusAfter(history)));
      if (direction === 'up' && !options.allowForeignHistory) await this.#refuseOverForeignHistory(planned);
      // Every module is loaded before the database is touched: a broken one fails the run with nothing applied.
      const modules = await loadModules(planned, direction);
      if (run.dryRun) return await this.#preview(run, planned, modules);

      throwIfAborted(options.signal, 'Stopped before any migration started');
      const { lock } = this.#options;
      let work: LockedWork<Db, F> = { store: this.#options.store, targets: planned };
      if (!lock || lock.livesInStore) await work.store.prepare();
      if (lock) {
        const watch = direction === 'up' ? this.#watchForDoneElsewhere(history, planned) : undefined;
        lease = await this.#acquire(run, lock, options, watch);
        // Another instance applied everything this run came for while it waited: nothing left to do.
        if (!lease) return run.finish(undefined, await this.#statusAfter(history));
        work = await this.#replanUnderLock(run, lock, lease, history, planned, modules, options);
      }
      const { head, error } = await this.#applyEach(run, work, modules, lease, options.signal);
      if (error !== undefined) return run.finish(error);
      return run.finish(undefined, await this.#statusAfter(history, head, work.store));
    } catch (error) {
      return run.finish(error);
    } finally {
      if (lease) await this.#release(lease);
    }
  }

  /**
   * Applying from the very first local migration on a database with another tool's history would run that
   * tool's migrations a second time (and fail on "already exists"): refuse, and say what to do.
   */
  async #refuseOverForeignHistory(planned: readonly Migration<Db>[]): Promise<void> {
    const local = await this.local();
    if (planned[0] !== local[0]) return; // mig has records: its history is its own
    const foreign = await this.#options.store.foreignHistories();
    if (foreign.length > 0) throw new ForeignHistoryError(foreign);
  }

  /** The migrations the run would touch, in a span. Throws on drift or a bad target. */
  #plan(run: RunRecord, history: LocalHistory<Db>, options: RunOptions): Promise<Targets<Db>> {
    const attributes = {
      ...this.#storeAttributes(),
      [Attr.MigrationDirection]: run.direction,
      [Attr.DryRun]: run.dryRun,
    };
    return withSpan(this.#telemetry.tracer, SpanName.Plan, attributes, async (span) => {
      const found = await this.#targets(run.direction, history, options);
      span.setAttribute(Attr.PendingCount, found.targets.length);
      return found;
    });
  }

  /** The migrations a run would touch, in order; for `up`, with the status they were read from. */
  async #targets(
    direction: MigrationDirection,
    history: LocalHistory<Db>,
    options: RunOptions,
    store: MigrationStore<Db, F> = this.#options.store,
  ): Promise<Targets<Db>> {
    if (direction === 'down') return { targets: downTargets(history, await store.readApplied(), options) };
    const status = await this.#readStatus(history, store);
    return { targets: upTargets(history, status, options), status };
  }

  /** A dry run: each migration's SQL, logged once; nothing written. */
  async #preview(
    run: RunRecord,
    targets: readonly Migration<Db>[],
    modules: ReadonlyMap<string, MigrationModule<Db>>,
  ): Promise<MigrationRunResult> {
    for (const m of targets) {
      const sql =
        (await this.#options.store.preview(m, run.direction)) ??
        (run.direction === 'up' && m.sql ? [m.sql] : undefined);
      const transactional = modules.get(m.name)?.transactional ?? true;
      run.add({ name: m.name, direction: run.direction, status: 'planned', durationMs: 0, transactional, sql });
    }
    const verb = run.direction === 'up' ? 'apply' : 'revert';
    this.#logger.info(
      {
        dryRun: true,
        direction: run.direction,
        migrations: run.results.map((r) => ({ name: r.name, transactional: r.transactional, sql: r.sql })),
      },
      `dry run: would ${verb} ${targets.length} migration(s); nothing was written`,
    );
    return run.finish();
  }

  /**
   * Someone may have migrated while this process waited: under the lock, create the tables if the lock did
   * not need them, plan again on the lock's own store, and load what the new plan adds.
   */
  async #replanUnderLock(
    run: RunRecord,
    lock: MigrationLock<F>,
    lease: LockLease<F>,
    history: LocalHistory<Db>,
    planned: readonly Migration<Db>[],
    modules: Map<string, MigrationModule<Db>>,
    options: RunOptions,
  ): Promise<LockedWork<Db, F>> {
    const store = this.#options.store.bind(lease.fence);
    if (!lock.livesInStore) await store.prepare();
    const { targets, status } = await this.#targets(run.direction, history, options, store);
    if (run.direction === 'down' && targets.some((m) => !planned.includes(m))) {
      // Never revert something the caller was not shown: the history moved while it waited.
      throw new MigError(
        MigErrorCode.Conflict,
        'The applied history changed while waiting for the lock (another process migrated); nothing was reverted. Check the status and run again.',
      );
    }
    const added = await loadModules(
      targets.filter((m) => !modules.has(m.name)),
      run.direction,
    );
    for (const [name, module] of added) modules.set(name, module);
    return { store, targets, head: status?.head ?? undefined };
  }

  /** Runs each target in order; stops at the first failure, an abort or a lost lock. */
  async #applyEach(
    run: RunRecord,
    work: LockedWork<Db, F>,
    modules: ReadonlyMap<string, MigrationModule<Db>>,
    lease: LockLease<F> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ head: StoreHead; error?: unknown }> {
    // The head the plan under the lock read, when it read one: no need to read it again.
    let head = work.head ?? (await work.store.readHead()) ?? EMPTY_HEAD;
    for (const [index, m] of work.targets.entries()) {
      const stop = signal?.aborted
        ? new AbortedError(`Stopped before migration "${m.name}" started`, signal.reason)
        : lease?.lost.aborted
          ? lease.lost.reason
          : undefined;
      if (stop !== undefined) {
        run.notRun(work.targets.slice(index), modules);
        return { head, error: stop };
      }
      try {
        head = await this.#applyOne(run, work.store, m, modules.get(m.name) as MigrationModule<Db>, {
          fence: lease?.fence,
          expectedHead: head,
        });
      } catch (error) {
        run.notRun(work.targets.slice(index + 1), modules);
        return { head, error };
      }
    }
    return { head };
  }

  /** One migration in its span, with its result, metric, log line and progress events. */
  async #applyOne(
    run: RunRecord,
    store: MigrationStore<Db, F>,
    m: Migration<Db>,
    module: MigrationModule<Db>,
    applyOptions: { fence: F | undefined; expectedHead: StoreHead },
  ): Promise<StoreHead> {
    const { direction } = run;
    const started = performance.now();
    run.progress({ type: 'migration-start', name: m.name, direction });
    const attributes = {
      ...this.#storeAttributes(),
      [Attr.MigrationName]: m.name,
      [Attr.MigrationDirection]: direction,
      [Attr.MigrationTransactional]: module.transactional,
      [Attr.MigrationChecksum]: m.checksum,
    };
    const finished = (status: MigrationResult['status']): MigrationResult => {
      const durationMs = performance.now() - started;
      this.#metrics.migrationFinished(direction, module.transactional, durationMs / 1000, status === 'failed');
      return { name: m.name, direction, status, durationMs, transactional: module.transactional };
    };
    try {
      const head = await withSpan(this.#telemetry.tracer, SpanName.Migration, attributes, async () => {
        try {
          return direction === 'up' ? await store.apply(m, applyOptions) : await store.revert(m, applyOptions);
        } catch (error) {
          throw isMigError(error) ? error : new MigrationFailedError(m.name, direction, error, module.transactional);
        }
      });
      const done = finished(direction === 'up' ? 'applied' : 'reverted');
      run.ended(done);
      this.#logger.info(
        { migration: m.name, direction, durationMs: Math.round(done.durationMs) },
        `${direction === 'up' ? 'applied' : 'reverted'} migration ${m.name}`,
      );
      return head;
    } catch (error) {
      const failed = finished('failed');
      run.ended(failed);
      this.#logger.error(
        { migration: m.name, direction, durationMs: Math.round(failed.durationMs), err: describeThrown(error) },
        `migration ${m.name} failed`,
      );
      throw error;
    }
  }

  /** The status after a run, from the head it produced, or one more check when the run did nothing. */
  async #statusAfter(
    history: LocalHistory<Db>,
    head?: StoreHead,
    store: MigrationStore<Db, F> = this.#options.store,
  ): Promise<MigrationStatus> {
    const pending = head ? history.pendingAfter(head) : undefined;
    if (head && pending) return statusOf(history, head, head.count, { pending, problems: [], ahead: [] }, 'head');
    return this.#readStatus(history, store);
  }

  /**
   * Waits for the lock in a span. While an `up` waits, it looks (lock-free) whether the holder already
   * applied what this run came for; then the wait ends without a lease (undefined) and without an error,
   * so racing instances finish with the holder instead of one by one.
   */
  async #acquire(
    run: LockWaiter,
    lock: MigrationLock<F>,
    options: { readonly signal?: AbortSignal | undefined; readonly lockTimeoutMs?: number | undefined },
    doneElsewhere: DoneElsewhere = NEVER_DONE,
  ): Promise<LockLease<F> | undefined> {
    const signal = options.signal ? AbortSignal.any([options.signal, doneElsewhere.signal]) : doneElsewhere.signal;
    const timeoutMs = options.lockTimeoutMs ?? this.#lockTimeoutMs;
    const spanAttributes = { [Attr.LockStrategy]: lock.strategy, [Attr.LockKey]: lock.key };
    return withSpan(this.#telemetry.tracer, SpanName.LockAcquire, spanAttributes, async (span) => {
      let attempts = 1;
      const started = performance.now();
      const report = this.#waitReporter(run, lock, span);
      const outcome = (waitedMs: number, result: 'acquired' | 'timeout' | 'aborted' | 'not-needed') => {
        this.#metrics.lockWaited(lock.strategy, waitedMs / 1000, result);
        span.setAttributes({ [Attr.LockWaitMs]: Math.round(waitedMs), [Attr.LockAttempts]: attempts });
        run.lockWaitMs = waitedMs;
      };
      let lease: LockLease<F>;
      try {
        lease = await lock.acquire({
          timeoutMs,
          signal,
          onWait: (wait) => {
            attempts = wait.attempt + 1;
            doneElsewhere.look(wait);
            report(wait);
          },
        });
      } catch (error) {
        const waited = performance.now() - started;
        // Also when the caller aborted at the same moment: the work it wanted is done either way.
        if (doneElsewhere.signal.aborted && isMigError(error, MigErrorCode.Aborted)) {
          span.addEvent('mig.lock.not_needed', { [Attr.LockWaitMs]: Math.round(waited) });
          outcome(waited, 'not-needed');
          return undefined;
        }
        outcome(waited, isMigError(error, MigErrorCode.LockTimeout) ? 'timeout' : 'aborted');
        throw error;
      }
      // Nothing between the grant and the caller's `finally` may throw, or the lock would be held forever.
      try {
        run.progress({ type: 'lock-acquired', waitedMs: lease.waitedMs });
        outcome(lease.waitedMs, 'acquired');
      } catch (error) {
        await this.#release(lease);
        throw error;
      }
      return lease;
    });
  }

  /** Reports a busy lock: a span event (an expected retry, not an error), progress, and a log line now and then. */
  #waitReporter(run: LockWaiter, lock: MigrationLock<F>, span: Span) {
    let lastLog = Number.NEGATIVE_INFINITY;
    return (wait: LockWait) => {
      run.progress({ type: 'lock-wait', wait });
      const holder = describeHolder(wait.holder);
      if (wait.holder) span.setAttribute(Attr.LockHolder, holder);
      span.addEvent('mig.lock.busy', {
        [Attr.LockAttempts]: wait.attempt,
        [Attr.LockWaitMs]: Math.round(wait.waitedMs),
        [Attr.LockHolder]: holder,
      });
      // The first wait, then at most every 5 s, so a long wait is visible but not noisy.
      if (wait.waitedMs - lastLog >= 5_000 || wait.attempt === 1) {
        lastLog = wait.waitedMs;
        this.#logger.info(
          { lock: lock.key, waitedMs: Math.round(wait.waitedMs), holder: wait.holder },
          `waiting for the migration lock, held by ${holder}`,
        );
      }
    };
  }

  /**
   * While an `up` waits for the lock: a lock-free status read per busy attempt (never two at once) that
   * aborts `signal` once every migration this run came for is applied by someone else.
   */
  #watchForDoneElsewhere(history: LocalHistory<Db>, targets: readonly Migration<Db>[]): DoneElsewhere {
    const done = new AbortController();
    let looking = false;
    // The head count at which every target would be applied: below it, a holder's notice is not worth a look.
    const last = targets.at(-1);
    const needed = last === undefined ? 0 : history.migrations.indexOf(last) + 1;
    const look = (wait: LockWait) => {
      if (looking || done.signal.aborted) return;
      if (wait.headCount !== undefined && wait.headCount < needed) return;
      looking = true;
      this.#readStatus(history)
        .then((status) => {
          const left = targets.filter((m) => status.pending.includes(m.name));
          if (status.problems.length === 0 && left.length === 0) done.abort('applied by another instance');
        })
        .catch(() => {
          // Only a shortcut: the wait goes on and the status is read again under the lock.
        })
        .finally(() => {
          looking = false;
        });
    };
    return { signal: done.signal, look };
  }

  async #release(lease: LockLease<F>): Promise<void> {
    const { lock } = this.#options;
    const attributes = { [Attr.LockStrategy]: lock?.strategy ?? 'none', [Attr.LockKey]: lock?.key ?? '' };
    const lostBefore = lease.lost.aborted;
    try {
      await withSpan(this.#telemetry.tracer, SpanName.LockRelease, attributes, () => lease.release());
      // Found lost only now (e.g. a pooler swapped the session): worth a warning, the run's outcome stands.
      if (!lostBefore && lease.lost.aborted) {
        const reason = lease.lost.reason as { message?: string; code?: string; context?: object };
        this.#logger.warn(
          { lock: lock?.key, code: reason?.code, context: reason?.context },
          reason?.message ?? 'the migration lock was found lost at release',
        );
      }
    } catch (error) {
      // The lock lapses by itself (session end or lease expiry); the run's own outcome stands.
      this.#logger.warn({ lock: lock?.key, err: describeThrown(error) }, 'releasing the migration lock failed');
    }
  }
}

/** The migrations a run touches and, for `up`, the status they were planned from. */
interface Targets<Db> {
  readonly targets: readonly Migration<Db>[];
  readonly status?: MigrationStatus | undefined;
}

/** What an adopt, baseline or repair would write, and how to write it under the lock. */
interface HistoryPlan<Db, F> {
  readonly changes: readonly HistoryChange[];
  write(store: MigrationStore<Db, F>, at: ApplyOptions<F>): Promise<StoreHead>;
}

/** Who waits for a lock: reports its waits and keeps how long it waited. */
interface LockWaiter {
  progress(event: RunProgress): void;
  lockWaitMs: number;
}

/** Aborts `signal` once the work a lock wait is for was done by another instance; `look` checks, lock-free. */
interface DoneElsewhere {
  readonly signal: AbortSignal;
  look(wait: LockWait): void;
}

const NEVER_DONE: DoneElsewhere = { signal: new AbortController().signal, look() {} };

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what, signal.reason);
}
