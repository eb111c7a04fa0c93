// `transaction: 'all'`: every pending migration and its record in one transaction (the store's `applyAll`),
// so that a failure anywhere leaves nothing. Checked before anything runs; each migration still gets its span,
// its result and its progress events, reported once the transaction has committed.
import type { Span } from '@opentelemetry/api';
import { describeThrown, InvalidOptionError, isMigError, MigrationFailedError } from '../errors.js';
import type { StoreHead } from '../head.js';
import type { RunRecord } from '../internal/run-record.js';
import { migrationStop, untilStopped } from '../internal/stop.js';
import { EMPTY_HEAD, type Migration, type MigrationModule } from '../migration.js';
import type { LockLease, MigrationStore } from '../ports.js';
import { Attr, SpanName } from '../telemetry.js';
import type { MigratorContext } from './context.js';
import type { MigrationResult, RunOptions } from './types.js';

/**
 * Refuses `transaction: 'all'` where it cannot keep its promise: a store (an engine) that cannot roll back
 * DDL, or a pending migration that must run outside a transaction. Nothing has been touched yet.
 */
export function refuseSingleTransaction<Db, F>(
  store: MigrationStore<Db, F>,
  targets: readonly Migration<Db>[],
  modules: ReadonlyMap<string, MigrationModule<Db>>,
): void {
  const how = "Run them without it (transaction: 'each', the default: each migration in its own transaction).";
  if (store.applyAll === undefined || store.singleTransactionRefused !== undefined) {
    const why = store.singleTransactionRefused ?? 'this store has no way to run several migrations in one transaction';
    throw new InvalidOptionError(
      'transaction',
      `transaction: 'all' (--single-transaction) is not possible on ${store.target.system}: ${why}. Nothing was applied. ${how}`,
    );
  }
  const outside = targets.filter((m) => modules.get(m.name)?.transactional === false).map((m) => m.name);
  if (outside.length > 0) {
    const listed = outside.map((name) => `  ${name}`).join('\n');
    throw new InvalidOptionError(
      'transaction',
      `transaction: 'all' (--single-transaction) cannot hold ${outside.length === 1 ? 'a migration that runs' : `${outside.length} migrations that run`} ` +
        `outside a transaction (-- mig:no-transaction, e.g. CREATE INDEX CONCURRENTLY, or a file with its own BEGIN … COMMIT):\n${listed}\nNothing was applied. ${how}`,
      { context: { migrations: outside } },
    );
  }
}

interface Running {
  readonly name: string;
  readonly span: Span;
  readonly started: number;
}

/**
 * Runs the targets in one transaction through the store's `applyAll`. Results are reported once it
 * committed; on a failure, the migration that failed is named and every other one is "not run" (what they
 * did was rolled back with it).
 */
export async function applyAllInOne<Db, F>(
  context: MigratorContext<Db, F>,
  run: RunRecord,
  work: {
    readonly store: MigrationStore<Db, F>;
    readonly targets: readonly Migration<Db>[];
    readonly head?: StoreHead | undefined;
  },
  modules: ReadonlyMap<string, MigrationModule<Db>>,
  lease: LockLease<F> | undefined,
  options: Pick<RunOptions, 'interrupt' | 'migrationTimeoutMs'>,
): Promise<{ head: StoreHead; error?: unknown }> {
  const { store, targets } = work;
  const head = work.head ?? (await store.readHead()) ?? EMPTY_HEAD;
  const timeoutMs = options.migrationTimeoutMs ?? context.migrationTimeoutMs;
  const label = `${targets.length} migrations in one transaction`;
  const stop = migrationStop(
    label,
    true,
    { timeoutMs, interrupt: options.interrupt, lost: lease?.lost },
    context.clock,
  );
  const ran = new Map<string, number>();
  let running: Running | undefined;
  const end = (error?: unknown) => {
    if (!running) return;
    if (error !== undefined) running.span.recordException(describeThrown(error));
    running.span.end();
    running = undefined;
  };
  const onStart = (name: string) => {
    end();
    run.progress({ type: 'migration-start', name, direction: 'up' });
    const attributes = {
      ...context.storeAttributes(),
      [Attr.MigrationName]: name,
      [Attr.MigrationDirection]: 'up',
      [Attr.MigrationTransactional]: true,
    };
    running = { name, span: context.tracer.startSpan(SpanName.Migration, { attributes }), started: performance.now() };
  };
  const onRan = (name: string, durationMs: number) => {
    ran.set(name, durationMs);
    end();
  };
  const started = performance.now();
  try {
    const applyAll = store.applyAll as NonNullable<typeof store.applyAll>;
    const change = applyAll.call(store, targets, {
      fence: lease?.fence,
      expectedHead: head,
      signal: stop.signal,
      onStart,
      onRan,
    });
    const reached = await untilStopped(change, stop.signal, context.clock);
    for (const m of targets) report(context, run, m, 'applied', ran.get(m.name) ?? 0);
    context.logger.info(
      { migrations: targets.length, durationMs: Math.round(performance.now() - started) },
      `applied ${targets.length} migration(s) in one transaction`,
    );
    return { head: reached };
  } catch (thrown) {
    const failedName = running?.name ?? targets[0]?.name ?? '';
    const error = isMigError(thrown)
      ? thrown
      : new MigrationFailedError(
          failedName,
          'up',
          thrown,
          true,
          `It ran in one transaction with ${targets.length - 1} other pending migration(s) (transaction: 'all'), so nothing was applied`,
        );
    end(error);
    for (const m of targets) {
      const failed = m.name === failedName && !isMigError(thrown);
      report(context, run, m, failed ? 'failed' : 'not-run', ran.get(m.name) ?? 0);
    }
    context.logger.error(
      { migration: failedName, migrations: targets.length, err: describeThrown(error) },
      `the single transaction of ${targets.length} migration(s) failed; nothing was applied`,
    );
    return { head, error };
  } finally {
    stop.dispose();
  }
}

function report<Db, F>(
  context: MigratorContext<Db, F>,
  run: RunRecord,
  m: Migration<Db>,
  status: MigrationResult['status'],
  durationMs: number,
): void {
  const result: MigrationResult = { name: m.name, direction: 'up', status, durationMs, transactional: true };
  // What was rolled back with the failed one never ended as a migration of its own.
  if (status === 'not-run') {
    run.add(result);
    return;
  }
  context.metrics.migrationFinished('up', true, durationMs / 1000, status === 'failed');
  run.ended(result);
}
