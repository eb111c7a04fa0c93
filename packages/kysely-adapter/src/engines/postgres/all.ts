// `transaction: 'all'` on PostgreSQL and PGlite: every pending migration and its record in one transaction.
// One BEGIN; the head checked and locked once; one round trip per `.sql` migration with its record (a code
// migration runs on the transaction between two); the fence, the head and the waiters' notice after the last;
// one COMMIT. The whole transaction is one lock attempt: one that runs out of its lock timeout is rolled back,
// and tried again.
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { LockAttemptOptions } from '../../lock-attempts.js';
import { type AllHooks, type Step, throwIfStopped } from '../../store-engine.js';
import type { StoreTables } from '../../tables.js';
import { type BatchSettings, batch, fenceCheck, notify, prologue, recordApplied, writeHead } from './batch.js';
import { withLockAttempts } from './lock-attempts.js';

/** What the store engine hands over: its tables, the migration's settings and lock attempts, its channel. */
export interface AllInOneContext {
  readonly tables: StoreTables;
  readonly settings: BatchSettings;
  readonly attempts: LockAttemptOptions;
  /** Where waiters listen; none on an embedded engine. */
  readonly channel: string | undefined;
}

export async function changeAllInOne(
  db: MigrationDb,
  context: AllInOneContext,
  steps: readonly Step[],
  run: (step: Step, db: MigrationDb) => Promise<void>,
  hooks: AllHooks,
): Promise<void> {
  const [first, last] = [steps[0], steps.at(-1)];
  if (first === undefined || last === undefined) return;
  const { tables } = context;
  // Each migration's own statement timeout, where any has one (the others get the session's own).
  const limits = steps.some((step) => step.statementTimeoutMs > 0);
  await withLockAttempts(context.attempts, (lockWaitMs) =>
    db.transaction().execute(async (trx) => {
      first.running.conn = trx;
      await sql.raw(prologue(tables, first.expected, { ...context.settings, lockWaitMs })).execute(trx);
      for (const step of steps) {
        throwIfStopped(step);
        hooks.onStart(step);
        const started = performance.now();
        const limit = limits ? statementLimit(step.statementTimeoutMs) : undefined;
        if (step.script !== undefined) {
          // One round trip: the record's duration runs from when the server received it (no start to keep).
          const [record] = recordApplied(tables, step.migration, true, step.next, 'batch');
          await sql.raw(batch([limit, step.script, record])).execute(trx);
        } else {
          // The record's duration from this migration's own start, not the transaction's.
          const [record] = recordApplied(tables, step.migration, true, step.next);
          await sql.raw(batch([`SELECT set_config('mig.started', clock_timestamp()::text, true)`, limit])).execute(trx);
          await run(step, trx);
          throwIfStopped(step);
          await sql.raw(batch([record])).execute(trx);
        }
        hooks.onRan(step, performance.now() - started);
      }
      const end = [fenceCheck(tables, last.fence), writeHead(tables, last.next), notify(context.channel, last.next)];
      await last.recordSpan(false, () => sql.raw(batch(end)).execute(trx));
    }),
  );
}

/** `statement_timeout` for the statements of one migration in a shared transaction: its own, or the session's. */
function statementLimit(ms: number): string {
  return ms > 0
    ? `SELECT set_config('statement_timeout', '${Math.round(ms)}', true)`
    : `SELECT set_config('statement_timeout', (SELECT reset_val FROM pg_catalog.pg_settings WHERE name = 'statement_timeout'), true)`;
}
