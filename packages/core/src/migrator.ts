import type { Attributes } from '@opentelemetry/api';
import {
  AbortedError,
  describeHolder,
  describeThrown,
  isMigError,
  MigError,
  MigErrorCode,
  type MigrationDirection,
  MigrationDriftError,
  MigrationFailedError,
  type MigrationProblem,
} from './errors.js';
import { EMPTY_DIGEST, type Migration, type MigrationModule, type MigrationSource } from './migration.js';
import { LocalHistory, type MigrationPlan, planMigrations } from './planner.js';
import type {
  AppliedMigration,
  LockLease,
  LockWait,
  Logger,
  MigrationLock,
  MigrationStore,
  StoreHead,
  StoreTarget,
} from './ports.js';
import { silentLogger } from './ports.js';
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

export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

export type StatusState = 'up-to-date' | 'pending' | 'drifted';

/** The answer of a status check. */
export interface MigrationStatus {
  readonly state: StatusState;
  readonly appliedCount: number;
  /** Names of pending migrations in the order they would be applied. */
  readonly pending: readonly string[];
  readonly problems: readonly MigrationProblem[];
  /** Applied by a newer version of the code: recorded, sorting after every local migration (not drift). */
  readonly ahead: readonly string[];
  /** The store's head; null when its tables do not exist yet. */
  readonly head: StoreHead | null;
  /** Digest of the local migration set; part of cache keys. */
  readonly localDigest: string;
  /** "head": one row compared; "records": every applied record read and compared. */
  readonly via: 'head' | 'records';
}

/** Status plus the full lists, for `mig status` and `mig verify`. */
export interface MigrationInspection<Db = unknown> {
  readonly status: MigrationStatus;
  readonly applied: readonly AppliedMigration[];
  readonly local: readonly Migration<Db>[];
}

export type MigrationResultStatus = 'applied' | 'reverted' | 'failed' | 'not-run' | 'planned';

export interface MigrationResult {
  readonly name: string;
  readonly direction: MigrationDirection;
  readonly status: MigrationResultStatus;
  readonly durationMs: number;
  readonly transactional: boolean;
  /** Dry runs: the SQL this migration would run, when it can be known. */
  readonly sql?: readonly string[] | undefined;
}

/** The outcome of `up` or `down`: one result per migration considered; `error` when the run stopped. */
export interface MigrationRunResult {
  readonly direction: MigrationDirection;
  readonly dryRun: boolean;
  readonly results: readonly MigrationResult[];
  readonly error?: MigError | undefined;
  /** Time spent waiting for the lock (0 without contention, or when no lock was taken). */
  readonly lockWaitMs: number;
  /** The status after the run, when it is known. */
  readonly status?: MigrationStatus | undefined;
}

export interface RunOptions {
  /** `up`: apply up to and including this migration. `down`: revert every migration applied after it. */
  readonly to?: string | undefined;
  /** `down` only: revert every applied migration. */
  readonly all?: boolean | undefined;
  /** Plan and preview; write nothing at all (not even mig's own tables). */
  readonly dryRun?: boolean | undefined;
  /** Stops before the next migration starts; a running migration is never interrupted. */
  readonly signal?: AbortSignal | undefined;
  readonly lockTimeoutMs?: number | undefined;
  /** Called as the run progresses: lock waits, each migration's start and end (for a CLI's output). */
  readonly onProgress?: ((event: RunProgress) => void) | undefined;
}

export type RunProgress =
  | { readonly type: 'lock-wait'; readonly wait: LockWait }
  | { readonly type: 'lock-acquired'; readonly waitedMs: number }
  | { readonly type: 'migration-start'; readonly name: string; readonly direction: MigrationDirection }
  | { readonly type: 'migration-end'; readonly result: MigrationResult };

type Progress = (event: RunProgress) => void;

export interface MigratorOptions<Db = unknown> extends TelemetryOptions {
  readonly source: MigrationSource<Db>;
  readonly store: MigrationStore<Db>;
  /** Without a lock, concurrent runners are still kept from recording twice, but the losers fail. */
  readonly lock?: MigrationLock | undefined;
  readonly lockTimeoutMs?: number | undefined;
  readonly logger?: Logger | undefined;
}

export interface Migrator<Db = unknown> {
  /** The store's target: what database and table this migrator works on (no secrets). */
  readonly target: StoreTarget;
  /** Loads (once) and returns the local migrations. */
  local(): Promise<readonly Migration<Db>[]>;
  /** The head digest the local migrations lead to (computed once, when they are loaded). */
  localDigest(): Promise<string>;
  /** One round trip when the head matches the local history; reads every record only when it does not. */
  status(): Promise<MigrationStatus>;
  /** Reads every applied record and compares them with the local migrations. */
  inspect(): Promise<MigrationInspection<Db>>;
  up(options?: RunOptions): Promise<MigrationRunResult>;
  down(options?: RunOptions): Promise<MigrationRunResult>;
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
 * const migrator = createMigrator({ source, store, lock });
 * const { results, error } = await migrator.up();
 * if (error) throw error;
 */
export function createMigrator<Db>(options: MigratorOptions<Db>): Migrator<Db> {
  return new MigratorImpl(options);
}

function statusOf<Db>(
  history: LocalHistory<Db>,
  head: StoreHead | null,
  appliedCount: number,
  plan: Pick<MigrationPlan<Db>, 'pending' | 'problems' | 'ahead'>,
  via: MigrationStatus['via'],
): MigrationStatus {
  const { pending, problems, ahead } = plan;
  return {
    state: problems.length > 0 ? 'drifted' : pending.length > 0 ? 'pending' : 'up-to-date',
    appliedCount,
    pending: pending.map((m) => m.name),
    problems,
    ahead,
    head,
    localDigest: history.digest,
    via,
  };
}

class MigratorImpl<Db> implements Migrator<Db> {
  readonly #options: Readonly<MigratorOptions<Db>>;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry;
  readonly #metrics: MigrationMetrics;
  #history: Promise<LocalHistory<Db>> | undefined;

  get target(): StoreTarget {
    return this.#options.store.target;
  }

  constructor(options: MigratorOptions<Db>) {
    this.#options = Object.freeze({ ...options });
    this.#logger = options.logger ?? silentLogger;
    this.#telemetry = createTelemetry(options);
    this.#metrics = createMigrationMetrics(this.#telemetry.meter);
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

  async #readStatus(history: LocalHistory<Db>, store = this.#options.store): Promise<MigrationStatus> {
    const head = await store.readHead();
    const effective = head ?? { count: 0, digest: EMPTY_DIGEST };
    const pending = history.pendingAfter(effective);
    if (pending) return statusOf(history, head, effective.count, { pending, problems: [], ahead: [] }, 'head');
    const applied = await store.readApplied();
    const plan = planMigrations(history.migrations, applied);
    return statusOf(history, head, applied.length, plan, 'records');
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
    };
  }

  up(options: RunOptions = {}): Promise<MigrationRunResult> {
    return this.#run('up', options);
  }

  down(options: RunOptions = {}): Promise<MigrationRunResult> {
    return this.#run('down', options);
  }

  async #run(direction: MigrationDirection, options: RunOptions): Promise<MigrationRunResult> {
    // A caller's progress callback that throws must not break the run (or strand the lock).
    const progress: Progress = (event) => {
      try {
        options.onProgress?.(event);
      } catch (error) {
        this.#logger.warn({ err: describeThrown(error) }, 'an onProgress callback threw; ignored');
      }
    };
    const dryRun = options.dryRun === true;
    let lockWaitMs = 0;
    let lease: LockLease | undefined;
    const results: MigrationResult[] = [];
    const finish = (error?: unknown, status?: MigrationStatus): MigrationRunResult => ({
      direction,
      dryRun,
      results,
      error: error === undefined ? undefined : toMigError(error, this.#options.store.target.table),
      lockWaitMs,
      status,
    });

    try {
      const history = await this.#localHistory();
      let targets = await withSpan(
        this.#telemetry.tracer,
        SpanName.Plan,
        { ...this.#storeAttributes(), [Attr.MigrationDirection]: direction, [Attr.DryRun]: dryRun },
        async (span) => {
          const found = await this.#targets(direction, history, options);
          span.setAttribute(Attr.PendingCount, found.length);
          return found;
        },
      );
      if (targets.length === 0) return finish(undefined, await this.#statusAfter(history));

      // Load every module before touching the database: a broken one fails the run with nothing applied.
      const modules = await loadAll(targets, direction);

      if (dryRun) {
        for (const m of targets) {
          const sql =
            (await this.#options.store.preview?.(m, direction)) ?? (direction === 'up' && m.sql ? [m.sql] : undefined);
          results.push({
            name: m.name,
            direction,
            status: 'planned',
            durationMs: 0,
            transactional: modules.get(m.name)?.transactional ?? true,
            sql,
          });
        }
        this.#logger.info(
          {
            dryRun: true,
            direction,
            migrations: results.map((r) => ({ name: r.name, transactional: r.transactional, sql: r.sql })),
          },
          `dry run: would ${direction === 'up' ? 'apply' : 'revert'} ${targets.length} migration(s); nothing was written`,
        );
        return finish();
      }

      throwIfAborted(options.signal, 'Stopped before any migration started');
      const { lock } = this.#options;
      if (!lock?.independentOfStore) await this.#options.store.prepare();
      let store = this.#options.store;
      if (lock) {
        // While waiting, look (lock-free) whether the holder already applied what this run came for: then
        // there is nothing left to wait for. Racing instances then finish with the holder, not one by one.
        const doneElsewhere = new AbortController();
        let looking = false;
        const waiting = targets;
        const lookWhileWaiting =
          direction === 'up'
            ? () => {
                if (looking || doneElsewhere.signal.aborted) return;
                looking = true;
                this.#readStatus(history)
                  .then((status) => {
                    const left = waiting.filter((m) => status.pending.includes(m.name));
                    if (status.problems.length === 0 && left.length === 0)
                      doneElsewhere.abort('applied by another instance');
                  })
                  .catch(() => {
                    // Only a shortcut: the wait goes on and the status is read again under the lock.
                  })
                  .finally(() => {
                    looking = false;
                  });
              }
            : undefined;
        const waitStarted = performance.now();
        const signal = options.signal ? AbortSignal.any([options.signal, doneElsewhere.signal]) : doneElsewhere.signal;
        lease = await this.#acquire(lock, { ...options, signal }, progress, lookWhileWaiting, doneElsewhere.signal);
        if (!lease) {
          lockWaitMs = performance.now() - waitStarted;
          return finish(undefined, await this.#statusAfter(history));
        }
        lockWaitMs = lease.waitedMs;
        store = store.bind?.(lease.fence) ?? store;
        if (lock.independentOfStore) await store.prepare();
        // Someone may have migrated while this process waited: plan again under the lock.
        const planned = targets;
        targets = await this.#targets(direction, history, options, store);
        if (direction === 'down' && targets.some((m) => !planned.includes(m))) {
          // Never revert something the caller was not shown: the history moved while it waited.
          throw new MigError(
            MigErrorCode.Conflict,
            'The applied history changed while waiting for the lock (another process migrated); nothing was reverted. Check `mig status` and run again.',
          );
        }
        for (const [name, module] of await loadAll(
          targets.filter((m) => !modules.has(m.name)),
          direction,
        )) {
          modules.set(name, module);
        }
      }
      let head = (await store.readHead()) ?? { count: 0, digest: EMPTY_DIGEST };

      for (const [index, m] of targets.entries()) {
        const module = modules.get(m.name) as MigrationModule<Db>;
        const stop = options.signal?.aborted
          ? new AbortedError(`Stopped before migration "${m.name}" started`, options.signal.reason)
          : lease?.lost.aborted
            ? lease.lost.reason
            : undefined;
        if (stop !== undefined) {
          for (const rest of targets.slice(index)) results.push(notRun(rest, direction, modules));
          return finish(stop);
        }
        const started = performance.now();
        progress({ type: 'migration-start', name: m.name, direction });
        try {
          head = await withSpan(
            this.#telemetry.tracer,
            SpanName.Migration,
            {
              ...this.#storeAttributes(),
              [Attr.MigrationName]: m.name,
              [Attr.MigrationDirection]: direction,
              [Attr.MigrationTransactional]: module.transactional,
              [Attr.MigrationChecksum]: m.checksum,
            },
            async () => {
              const applyOptions = { fence: lease?.fence, expectedHead: head };
              try {
                return direction === 'up' ? await store.apply(m, applyOptions) : await store.revert(m, applyOptions);
              } catch (error) {
                throw isMigError(error)
                  ? error
                  : new MigrationFailedError(m.name, direction, error, module.transactional);
              }
            },
          );
        } catch (error) {
          const durationMs = performance.now() - started;
          this.#metrics.migrationFinished(direction, module.transactional, durationMs / 1000, true);
          const failed: MigrationResult = {
            name: m.name,
            direction,
            status: 'failed',
            durationMs,
            transactional: module.transactional,
          };
          results.push(failed);
          progress({ type: 'migration-end', result: failed });
          for (const rest of targets.slice(index + 1)) results.push(notRun(rest, direction, modules));
          this.#logger.error(
            { migration: m.name, direction, durationMs: Math.round(durationMs), err: describeThrown(error) },
            `migration ${m.name} failed`,
          );
          return finish(error);
        }
        const durationMs = performance.now() - started;
        this.#metrics.migrationFinished(direction, module.transactional, durationMs / 1000, false);
        const done: MigrationResult = {
          name: m.name,
          direction,
          status: direction === 'up' ? 'applied' : 'reverted',
          durationMs,
          transactional: module.transactional,
        };
        results.push(done);
        progress({ type: 'migration-end', result: done });
        this.#logger.info(
          { migration: m.name, direction, durationMs: Math.round(durationMs) },
          `${direction === 'up' ? 'applied' : 'reverted'} migration ${m.name}`,
        );
      }
      return finish(undefined, await this.#statusAfter(history, head, store));
    } catch (error) {
      return finish(error);
    } finally {
      if (lease) await this.#release(lease);
    }
  }

  /** The status after a run, from the head it produced, or one more check when the run did nothing. */
  async #statusAfter(
    history: LocalHistory<Db>,
    head?: StoreHead,
    store = this.#options.store,
  ): Promise<MigrationStatus> {
    const pending = head ? history.pendingAfter(head) : undefined;
    if (head && pending) return statusOf(history, head, head.count, { pending, problems: [], ahead: [] }, 'head');
    return this.#readStatus(history, store);
  }

  /** The migrations a run would touch, in the order it would touch them. Throws on drift or a bad target. */
  async #targets(
    direction: MigrationDirection,
    history: LocalHistory<Db>,
    options: RunOptions,
    store = this.#options.store,
  ): Promise<readonly Migration<Db>[]> {
    if (direction === 'up') {
      const status = await this.#readStatus(history, store);
      if (status.problems.length > 0) throw new MigrationDriftError(status.problems);
      const pending = history.migrations.filter((m) => status.pending.includes(m.name));
      if (options.to === undefined) return pending;
      const index = pending.findIndex((m) => m.name === options.to);
      if (index >= 0) return pending.slice(0, index + 1);
      if (history.migrations.some((m) => m.name === options.to)) return []; // already applied
      throw unknownTarget(options.to, history);
    }

    const applied = await store.readApplied();
    const plan = planMigrations(history.migrations, applied);
    if (plan.problems.length > 0) throw new MigrationDriftError(plan.problems);
    const byName = new Map(history.migrations.map((m) => [m.name, m]));
    const reversed = [...applied].reverse().map((r) => r.name);
    let names: string[];
    if (options.all) names = reversed;
    else if (options.to === undefined) names = reversed.slice(0, 1);
    else {
      const index = reversed.indexOf(options.to);
      if (index < 0) {
        if (byName.has(options.to)) return []; // not applied: nothing after it to revert
        throw unknownTarget(options.to, history);
      }
      names = reversed.slice(0, index);
    }
    const foreign = names.filter((name) => !byName.has(name));
    if (foreign.length > 0) {
      throw new MigError(
        MigErrorCode.InvalidTarget,
        `Cannot revert ${foreign.map((n) => `"${n}"`).join(', ')}: applied by a newer version of the code, whose files are not here. Revert with that version.`,
        { context: { migrations: foreign } },
      );
    }
    return names.map((name) => byName.get(name) as Migration<Db>);
  }

  async #acquire(
    lock: MigrationLock,
    options: RunOptions,
    progress: Progress,
    onBusy?: () => void,
    /** Aborted when the wait is no longer needed: then no lease, and no error. */
    notNeeded?: AbortSignal,
  ): Promise<LockLease | undefined> {
    const timeoutMs = options.lockTimeoutMs ?? this.#options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    return withSpan(
      this.#telemetry.tracer,
      SpanName.LockAcquire,
      { [Attr.LockStrategy]: lock.strategy, [Attr.LockKey]: lock.key },
      async (span) => {
        let lastLog = Number.NEGATIVE_INFINITY;
        let attempts = 1;
        const started = performance.now();
        const acquiring = lock.acquire({
          timeoutMs,
          signal: options.signal,
          onWait: (wait) => {
            onBusy?.();
            progress({ type: 'lock-wait', wait });
            attempts = wait.attempt + 1;
            if (wait.holder) span.setAttribute(Attr.LockHolder, describeHolder(wait.holder));
            // An expected retry: an event on the span, not an error.
            span.addEvent('mig.lock.busy', {
              [Attr.LockAttempts]: wait.attempt,
              [Attr.LockWaitMs]: Math.round(wait.waitedMs),
              [Attr.LockHolder]: describeHolder(wait.holder),
            });
            // Log the first wait, then at most every 5 s, so a long wait is visible but not noisy.
            if (wait.waitedMs - lastLog >= 5_000 || wait.attempt === 1) {
              lastLog = wait.waitedMs;
              this.#logger.info(
                { lock: lock.key, waitedMs: Math.round(wait.waitedMs), holder: wait.holder },
                `waiting for the migration lock, held by ${describeHolder(wait.holder)}`,
              );
            }
          },
        });
        let lease: LockLease;
        try {
          lease = await acquiring;
        } catch (error) {
          const waited = performance.now() - started;
          // Also when the caller aborted at the same moment: the work it wanted is done either way.
          if (notNeeded?.aborted && isMigError(error, MigErrorCode.Aborted)) {
            span.addEvent('mig.lock.not_needed', { [Attr.LockWaitMs]: Math.round(waited) });
            span.setAttributes({ [Attr.LockWaitMs]: Math.round(waited), [Attr.LockAttempts]: attempts });
            this.#metrics.lockWaited(lock.strategy, waited / 1000, 'not-needed');
            return undefined;
          }
          const outcome = isMigError(error, MigErrorCode.LockTimeout) ? 'timeout' : 'aborted';
          this.#metrics.lockWaited(lock.strategy, waited / 1000, outcome);
          span.setAttributes({ [Attr.LockWaitMs]: Math.round(waited), [Attr.LockAttempts]: attempts });
          throw error;
        }
        // Nothing between the grant and the caller's `finally` may throw, or the lock would be held forever.
        try {
          progress({ type: 'lock-acquired', waitedMs: lease.waitedMs });
          this.#metrics.lockWaited(lock.strategy, lease.waitedMs / 1000, 'acquired');
          span.setAttributes({ [Attr.LockWaitMs]: Math.round(lease.waitedMs), [Attr.LockAttempts]: attempts });
        } catch (error) {
          await this.#release(lease);
          throw error;
        }
        return lease;
      },
    );
  }

  async #release(lease: LockLease): Promise<void> {
    const { lock } = this.#options;
    try {
      await withSpan(
        this.#telemetry.tracer,
        SpanName.LockRelease,
        { [Attr.LockStrategy]: lock?.strategy ?? 'none', [Attr.LockKey]: lock?.key ?? '' },
        () => lease.release(),
      );
    } catch (error) {
      // The lock lapses by itself (session end or lease expiry); the run's own outcome stands.
      this.#logger.warn({ lock: lock?.key, err: describeThrown(error) }, 'releasing the migration lock failed');
    }
  }
}

/** Loads the modules of `targets`; for `down`, each must have a down. */
async function loadAll<Db>(
  targets: readonly Migration<Db>[],
  direction: MigrationDirection,
): Promise<Map<string, MigrationModule<Db>>> {
  const modules = new Map(await Promise.all(targets.map(async (m) => [m.name, await m.load()] as const)));
  if (direction === 'down') {
    const irreversible = targets.filter((m) => !modules.get(m.name)?.down);
    if (irreversible.length > 0) {
      throw new MigError(
        MigErrorCode.InvalidTarget,
        `Cannot revert ${irreversible.map((m) => `"${m.name}"`).join(', ')}: no down migration defined. ` +
          'Add a down (a `down` export, or a `-- mig:down` section in a SQL file) or write a new forward migration.',
        { context: { migrations: irreversible.map((m) => m.name) } },
      );
    }
  }
  return modules;
}

function notRun<Db>(
  m: Migration<Db>,
  direction: MigrationDirection,
  modules: Map<string, MigrationModule<Db>>,
): MigrationResult {
  return {
    name: m.name,
    direction,
    status: 'not-run',
    durationMs: 0,
    transactional: modules.get(m.name)?.transactional ?? true,
  };
}

function unknownTarget<Db>(name: string, history: LocalHistory<Db>): MigError {
  const names = history.migrations.map((m) => m.name);
  const hint =
    names.length > 0 ? ` Known migrations: ${names.slice(-5).join(', ')}${names.length > 5 ? ', …' : ''}.` : '';
  return new MigError(MigErrorCode.InvalidTarget, `There is no migration named "${name}".${hint}`, {
    context: { target: name },
  });
}

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what, signal.reason);
}

function toMigError(error: unknown, table: string): MigError {
  if (isMigError(error)) return error;
  return new MigError(MigErrorCode.Store, `Migration run on ${table} failed: ${describeThrown(error)}`, {
    cause: error,
  });
}
