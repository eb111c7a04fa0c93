// The migrator's reads: the one-round-trip head check, `status()` in its span, and `inspect()`. None writes,
// none locks.

import type { StoreHead } from '../head.js';
import { EMPTY_HEAD } from '../migration.js';
import { type LocalHistory, planMigrations } from '../planner.js';
import type { MigrationStore } from '../ports.js';
import { type MigrationInspection, type MigrationStatus, statusOf } from '../status.js';
import { Attr, SpanName, withSpan } from '../telemetry.js';
import type { MigratorContext } from './context.js';

/** `status()`: the head check in a `mig.status.check` span, with its duration metric. */
export async function checkStatus<Db, F>(context: MigratorContext<Db, F>): Promise<MigrationStatus> {
  const history = await context.localHistory();
  return withSpan(context.tracer, SpanName.Check, context.storeAttributes(), async (span) => {
    const started = performance.now();
    const status = await readStatus(history, context.store);
    context.metrics.statusChecked((performance.now() - started) / 1000, false);
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

/**
 * The status in one round trip when the store's head is one the local history leads to (the hot path,
 * whatever the number of applied migrations); every record is read only when it is not.
 */
export async function readStatus<Db, F>(
  history: LocalHistory<Db>,
  store: MigrationStore<Db, F>,
): Promise<MigrationStatus> {
  const head = await store.readHead();
  const effective = head ?? EMPTY_HEAD;
  const pending = history.pendingAfter(effective);
  if (pending) return statusOf(history, head, effective.count, { pending, problems: [], ahead: [] }, 'head');
  const applied = await store.readApplied();
  return statusOf(history, head, applied.length, planMigrations(history.migrations, applied), 'records');
}

/** The status after a run, from the head it produced, or one more check when the run did nothing. */
export async function statusAfter<Db, F>(
  history: LocalHistory<Db>,
  store: MigrationStore<Db, F>,
  head?: StoreHead,
): Promise<MigrationStatus> {
  const pending = head ? history.pendingAfter(head) : undefined;
  if (head && pending) return statusOf(history, head, head.count, { pending, problems: [], ahead: [] }, 'head');
  return readStatus(history, store);
}

/** `inspect()`: every applied record, compared with the local migrations, and what failed runs left behind. */
export async function inspect<Db, F>(context: MigratorContext<Db, F>): Promise<MigrationInspection<Db>> {
  const history = await context.localHistory();
  const { store } = context;
  // One after the other, on one connection: a pool with a single connection must not wait on itself.
  const applied = await store.readApplied();
  const head = await store.readHead();
  const plan = planMigrations(history.migrations, applied);
  const matches = head !== null && history.pendingAfter(head) !== undefined;
  return {
    status: statusOf(history, head, applied.length, plan, matches ? 'head' : 'records'),
    applied,
    local: history.migrations,
    leftovers: (plan.pending.length > 0 ? await store.inspector?.leftovers(plan.pending) : undefined) ?? [],
  };
}
