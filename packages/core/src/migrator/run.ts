// The run, `up` or `down`: plan (in a span); preview for a dry run; or, in the lock section, plan again on
// the locked store and apply (or revert) each migration in its own span, with a result per migration.

import type { Span } from '@opentelemetry/api';
import {
  AbortedError,
  describeThrown,
  ForeignHistoryError,
  isMigError,
  MigError,
  MigErrorCode,
  type MigrationDirection,
  MigrationFailedError,
} from '../errors.js';
import type { StoreHead } from '../head.js';
import { RunRecord } from '../internal/run-record.js';
import { migrationStop, type StopSources, untilStopped } from '../internal/stop.js';
import { downTargets, loadModules, upTargets } from '../internal/targets.js';
import { EMPTY_HEAD, type Migration, type MigrationModule } from '../migration.js';
import type { LocalHistory } from '../planner.js';
import type { LockLease, MigrationStore } from '../ports.js';
import type { MigrationStatus } from '../status.js';
import { describeBlockers, type TableLockWait } from '../table-lock.js';
import { Attr, EventName, SpanName, withSpan } from '../telemetry.js';
import type { MigratorContext } from './context.js';
import { enter, throwIfAborted } from './lock-section.js';
import { applyAllInOne, refuseSingleTransaction } from './run-all.js';
import { readStatus, statusAfter } from './status-check.js';
import type { MigrationResult, MigrationRunResult, RunOptions } from './types.js';

/** The migrations a run touches and, for `up`, the status they were planned from. */
interface Targets<Db> {
  readonly targets: readonly Migration<Db>[];
  readonly status?: MigrationStatus | undefined;
}

/** What the caller was shown before the lock: the targets, and their modules (loaded, checked). */
interface Planned<Db> {
  readonly targets: readonly Migration<Db>[];
  readonly modules: Map<string, MigrationModule<Db>>;
}

/** In the lock section: the store bound to it, and the migrations to run there. */
interface LockedWork<Db, F> {
  readonly store: MigrationStore<Db, F>;
  readonly targets: readonly Migration<Db>[];
  /** The head the plan read, if it read one (an `up` does). */
  readonly head?: StoreHead | undefined;
}

/** plan → (preview | lock section: re-plan → apply each). Never throws: the error is in the result. */
export async function runMigrations<Db, F>(
  context: MigratorContext<Db, F>,
  direction: MigrationDirection,
  options: RunOptions,
): Promise<MigrationRunResult> {
  const run = new RunRecord(direction, options, context.logger, context.store.target.table);
  try {
    const history = await context.localHistory();
    const { targets, status } = await plan(context, run, history, options);
    // Nothing to do: the status the plan read is the answer (one round trip for a no-op up).
    if (targets.length === 0) return run.finish(undefined, status ?? (await statusAfter(history, context.store)));
    if (direction === 'up' && !options.allowForeignHistory) await refuseOverForeignHistory(context, history, targets);
    // Every module is loaded before the database is touched: a broken one fails the run with nothing applied.
    const planned: Planned<Db> = { targets, modules: await loadModules(targets, direction) };
    const allInOne = direction === 'up' && (options.transaction ?? context.transaction) === 'all';
    if (allInOne) refuseSingleTransaction(context.store, targets, planned.modules);
    if (run.dryRun) return await preview(context, run, planned);

    throwIfAborted(options.signal, 'Stopped before any migration started');
    const work = direction === 'up' ? { history, targets } : undefined;
    // A stop from outside ends a wait for the lock too, whichever of the two comes.
    const signals = [options.signal, options.interrupt].filter((x): x is AbortSignal => x !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const request = { waiter: run, signal, lockTimeoutMs: options.lockTimeoutMs, work };
    return await enter(context, request, async (section) => {
      // Another instance applied everything this run came for while it waited: nothing left to do.
      // The head the holder announced, when that is how this run knew: no need to read it.
      if (section.kind === 'done-elsewhere') {
        return run.finish(undefined, await statusAfter(history, context.store, section.head));
      }
      const locked: LockedWork<Db, F> = section.lease
        ? await replanUnderLock(run, section.store, history, planned, options)
        : { store: section.store, targets };
      if (allInOne) refuseSingleTransaction(locked.store, locked.targets, planned.modules);
      const apply = allInOne ? applyAllInOne : applyEach;
      const { head, error } = await apply(context, run, locked, planned.modules, section.lease, options);
      section.reached(head);
      if (error !== undefined) return run.finish(error);
      return run.finish(undefined, await statusAfter(history, locked.store, head));
    });
  } catch (error) {
    return run.finish(error);
  }
}

/**
 * Applying from the very first local migration on a database with another tool's history would run that
 * tool's migrations a second time (and fail on "already exists"): refuse, and say what to do.
 */
async function refuseOverForeignHistory<Db, F>(
  context: MigratorContext<Db, F>,
  history: LocalHistory<Db>,
  planned: readonly Migration<Db>[],
): Promise<void> {
  if (planned[0] !== history.migrations[0]) return; // mig has records: its history is its own
  const foreign = (await context.store.inspector?.foreignHistories()) ?? [];
  if (foreign.length > 0) throw new ForeignHistoryError(foreign);
}

/** The migrations the run would touch, in a span. Throws on drift or a bad target. */
function plan<Db, F>(
  context: MigratorContext<Db, F>,
  run: RunRecord,
  history: LocalHistory<Db>,
  options: RunOptions,
): Promise<Targets<Db>> {
  const attributes = {
    ...context.storeAttributes(),
    [Attr.MigrationDirection]: run.direction,
    [Attr.DryRun]: run.dryRun,
  };
  return withSpan(context.tracer, SpanName.Plan, attributes, async (span) => {
    const found = await findTargets(run.direction, history, options, context.store);
    span.setAttribute(Attr.PendingCount, found.targets.length);
    return found;
  });
}

/** The migrations a run would touch, in order; for `up`, with the status they were read from. */
async function findTargets<Db, F>(
  direction: MigrationDirection,
  history: LocalHistory<Db>,
  options: RunOptions,
  store: MigrationStore<Db, F>,
): Promise<Targets<Db>> {
  if (direction === 'down') return { targets: downTargets(history, await store.readApplied(), options) };
  const status = await readStatus(history, store);
  return { targets: upTargets(history, status, options), status };
}

/** A dry run: each migration's SQL, logged once; nothing written. */
async function preview<Db, F>(
  context: MigratorContext<Db, F>,
  run: RunRecord,
  planned: Planned<Db>,
): Promise<MigrationRunResult> {
  const { targets, modules } = planned;
  for (const m of targets) {
    // Without an inspector (or when it cannot tell), a SQL migration's own text.
    const sql =
      (await context.store.inspector?.preview(m, run.direction)) ??
      (run.direction === 'up' && m.sql ? [m.sql] : undefined);
    const transactional = modules.get(m.name)?.transactional ?? true;
    run.add({ name: m.name, direction: run.direction, status: 'planned', durationMs: 0, transactional, sql });
  }
  const verb = run.direction === 'up' ? 'apply' : 'revert';
  context.logger.info(
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
 * Someone may have migrated while this process waited: plan again on the lock's own store, and load what
 * the new plan adds.
 */
async function replanUnderLock<Db, F>(
  run: RunRecord,
  store: MigrationStore<Db, F>,
  history: LocalHistory<Db>,
  planned: Planned<Db>,
  options: RunOptions,
): Promise<LockedWork<Db, F>> {
  const { targets, status } = await findTargets(run.direction, history, options, store);
  const shown = new Set(planned.targets);
  if (run.direction === 'down' && targets.some((m) => !shown.has(m))) {
    // Never revert something the caller was not shown: the history moved while it waited.
    throw new MigError(
      MigErrorCode.Conflict,
      'The applied history changed while waiting for the lock (another process migrated); nothing was reverted. Check the status and run again.',
    );
  }
  const { modules } = planned;
  const added = await loadModules(
    targets.filter((m) => !modules.has(m.name)),
    run.direction,
  );
  for (const [name, module] of added) modules.set(name, module);
  return { store, targets, head: status?.head ?? undefined };
}

/** Runs each target in order; stops at the first failure, an abort or a lost lock. */
async function applyEach<Db, F>(
  context: MigratorContext<Db, F>,
  run: RunRecord,
  work: LockedWork<Db, F>,
  modules: ReadonlyMap<string, MigrationModule<Db>>,
  lease: LockLease<F> | undefined,
  options: Pick<RunOptions, 'signal' | 'interrupt' | 'migrationTimeoutMs'>,
): Promise<{ head: StoreHead; error?: unknown }> {
  const { signal, interrupt } = options;
  const timeoutMs = options.migrationTimeoutMs ?? context.migrationTimeoutMs;
  // The head the plan under the lock read, when it read one: no need to read it again.
  let head = work.head ?? (await work.store.readHead()) ?? EMPTY_HEAD;
  for (const [index, m] of work.targets.entries()) {
    const stopped = signal?.aborted ? signal : interrupt?.aborted ? interrupt : undefined;
    const stop = stopped
      ? new AbortedError(`Stopped before migration "${m.name}" started`, stopped.reason)
      : lease?.lost.aborted
        ? lease.lost.reason
        : undefined;
    if (stop !== undefined) {
      run.notRun(work.targets.slice(index), modules);
      return { head, error: stop };
    }
    try {
      head = await applyOne(context, run, work.store, m, modules.get(m.name) as MigrationModule<Db>, {
        fence: lease?.fence,
        expectedHead: head,
        stops: { timeoutMs, interrupt, lost: lease?.lost },
      });
    } catch (error) {
      run.notRun(work.targets.slice(index + 1), modules);
      return { head, error };
    }
  }
  return { head };
}

/** One migration in its span, with its result, metric, log line and progress events. */
async function applyOne<Db, F>(
  context: MigratorContext<Db, F>,
  run: RunRecord,
  store: MigrationStore<Db, F>,
  m: Migration<Db>,
  module: MigrationModule<Db>,
  applyOptions: { fence: F | undefined; expectedHead: StoreHead; stops: StopSources },
): Promise<StoreHead> {
  const { direction } = run;
  const started = performance.now();
  run.progress({ type: 'migration-start', name: m.name, direction });
  const attributes = {
    ...context.storeAttributes(),
    [Attr.MigrationName]: m.name,
    [Attr.MigrationDirection]: direction,
    [Attr.MigrationTransactional]: module.transactional,
    [Attr.MigrationChecksum]: m.checksum,
  };
  const finished = (status: MigrationResult['status']): MigrationResult => {
    const durationMs = performance.now() - started;
    context.metrics.migrationFinished(direction, module.transactional, durationMs / 1000, status === 'failed');
    return { name: m.name, direction, status, durationMs, transactional: module.transactional };
  };
  const stop = migrationStop(m.name, module.transactional, applyOptions.stops, context.clock);
  try {
    const head = await withSpan(context.tracer, SpanName.Migration, attributes, async (span) => {
      const options = {
        fence: applyOptions.fence,
        expectedHead: applyOptions.expectedHead,
        signal: stop.signal,
        onLockWait: lockWaitReporter(context, m.name, direction, span),
      };
      try {
        const change = direction === 'up' ? store.apply(m, options) : store.revert(m, options);
        return await untilStopped(change, stop.signal, context.clock);
      } catch (error) {
        throw isMigError(error) ? error : new MigrationFailedError(m.name, direction, error, module.transactional);
      }
    });
    stop.dispose();
    const done = finished(direction === 'up' ? 'applied' : 'reverted');
    run.ended(done);
    context.logger.info(
      { migration: m.name, direction, durationMs: Math.round(done.durationMs) },
      `${direction === 'up' ? 'applied' : 'reverted'} migration ${m.name}`,
    );
    return head;
  } catch (error) {
    stop.dispose();
    const failed = finished('failed');
    run.ended(failed);
    context.logger.error(
      { migration: m.name, direction, durationMs: Math.round(failed.durationMs), err: describeThrown(error) },
      `migration ${m.name} failed`,
    );
    throw error;
  }
}

/**
 * What the migrator does with each short table-lock attempt that ran out: a log line naming the blocker, an
 * event on the migration's span (its attempt count kept up to date), and the metric.
 */
function lockWaitReporter<Db, F>(
  context: MigratorContext<Db, F>,
  name: string,
  direction: string,
  span: Span,
): (wait: TableLockWait) => void {
  span.setAttribute(Attr.MigrationAttempts, 1);
  return (wait) => {
    const retried = wait.retryInMs !== undefined;
    const blockers = describeBlockers(wait.blockers);
    span.setAttribute(Attr.MigrationAttempts, wait.attempt + (retried ? 1 : 0));
    span.addEvent(EventName.TableLockWait, {
      [Attr.TableLockAttempt]: wait.attempt,
      [Attr.TableLockWaitMs]: Math.round(wait.waitedMs),
      [Attr.TableLockBlockers]: blockers,
    });
    context.metrics.tableLockTimedOut(direction, retried);
    const next = retried
      ? `rolled back to let other queries through; attempt ${wait.attempt + 1} in ${Math.round(wait.retryInMs ?? 0)} ms`
      : 'no budget left for another attempt';
    context.logger.warn(
      { migration: name, attempt: wait.attempt, waitedMs: Math.round(wait.waitedMs), blockers: wait.blockers },
      `migration ${name}, attempt ${wait.attempt}: ${blockers}; ${next}`,
    );
  };
}
