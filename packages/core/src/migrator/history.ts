// The history operations: adopt, baseline and repair write records only, never run a migration. Each plans
// (with the pure planners of internal/history-plan.ts) from the records read in the lock section, and
// writes them there in one store transaction.

import type { StoreHead } from '../head.js';
import { planAdoption, planBaseline, planRepair } from '../internal/history-plan.js';
import { safeProgress, toMigError } from '../internal/run-record.js';
import { EMPTY_HEAD } from '../migration.js';
import type { LocalHistory } from '../planner.js';
import type { AppliedMigration, ApplyOptions, MigrationStore } from '../ports.js';
import { SpanName, withSpan } from '../telemetry.js';
import type { MigratorContext } from './context.js';
import { enter, type LockWaiter, throwIfAborted } from './lock-section.js';
import { readStatus } from './status-check.js';
import type { AdoptedHistory, HistoryChange, HistoryOptions, HistoryResult } from './types.js';

/** What an adopt, baseline or repair would write, and how to write it in the lock section. */
interface HistoryPlan<Db, F> {
  readonly changes: readonly HistoryChange[];
  write(store: MigrationStore<Db, F>, at: ApplyOptions<F>): Promise<StoreHead>;
}

/** `adopt()`: another tool's applied migrations recorded as applied. */
export function adopt<Db, F>(
  context: MigratorContext<Db, F>,
  options: HistoryOptions & { readonly history: AdoptedHistory },
): Promise<HistoryResult> {
  const { history: adopted } = options;
  return rewriteHistory(context, 'adopt', options, (history, records) => {
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

/** `baseline()`: every migration up to `to` recorded as applied without running. */
export function baseline<Db, F>(
  context: MigratorContext<Db, F>,
  options: HistoryOptions & { readonly to: string },
): Promise<HistoryResult> {
  return rewriteHistory(context, 'baseline', options, (history, records) => {
    const record = planBaseline(history, records, options.to);
    return {
      changes: record.map((m) => ({ kind: 'record', name: m.name, checksum: m.checksum })),
      write: (store, at) => store.record(record, { ...at, origin: 'baseline', runnable: true }),
    };
  });
}

/** `repair()`: recorded checksums replaced by the files' current ones, or the record of a deleted file forgotten. */
export function repair<Db, F>(
  context: MigratorContext<Db, F>,
  options: HistoryOptions & { readonly forget?: string | undefined },
): Promise<HistoryResult> {
  return rewriteHistory(context, 'repair', options, (history, records) => {
    const { rewrite, changes } = planRepair(history, records, options.forget);
    return { changes, write: (store, at) => store.rewrite(rewrite, at) };
  });
}

/**
 * Adopt, baseline and repair: plan from the records (read again in the lock section), write them in one
 * store transaction, release. A dry run plans from the records as they are, takes no lock, writes nothing.
 */
async function rewriteHistory<Db, F>(
  context: MigratorContext<Db, F>,
  operation: HistoryResult['operation'],
  options: HistoryOptions,
  plan: (history: LocalHistory<Db>, records: readonly AppliedMigration[]) => HistoryPlan<Db, F>,
): Promise<HistoryResult> {
  const waiter: LockWaiter = { progress: safeProgress(options.onProgress, context.logger), lockWaitMs: 0 };
  const result = (rest: Omit<HistoryResult, 'operation' | 'dryRun' | 'lockWaitMs'>): HistoryResult => ({
    operation,
    dryRun: options.dryRun === true,
    lockWaitMs: waiter.lockWaitMs,
    ...rest,
  });
  try {
    const history = await context.localHistory();
    if (options.dryRun) return result({ changes: plan(history, await context.store.readApplied()).changes });
    throwIfAborted(options.signal, `Stopped before the ${operation} started`);
    const request = { waiter, signal: options.signal, lockTimeoutMs: options.lockTimeoutMs };
    return await enter(context, request, async ({ store, lease }) => {
      const { changes, write } = plan(history, await store.readApplied());
      if (changes.length > 0) {
        const expectedHead = (await store.readHead()) ?? EMPTY_HEAD;
        await withSpan(context.tracer, SpanName.Record, context.storeAttributes(), () =>
          write(store, { fence: lease?.fence, expectedHead }),
        );
        context.logger.info(
          { operation, changes: changes.length },
          `${operation}: ${changes.length} record(s) written`,
        );
      }
      return result({ changes, status: await readStatus(history, store) });
    });
  } catch (error) {
    return result({ changes: [], error: toMigError(error, context.store.target.table) });
  }
}
