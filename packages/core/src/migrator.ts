// The migrator: a façade over its jobs, each in its own module under ./migrator/: the reads (status-check),
// the lock section (lock-section), the run of `up` and `down` (run), and adopt, baseline and repair
// (history). They share one MigratorContext: options, logger, telemetry, the local migrations.
import type { Migration } from './migration.js';
import { MigratorContext } from './migrator/context.js';
import { adopt, baseline, repair } from './migrator/history.js';
import { runMigrations } from './migrator/run.js';
import { checkStatus, inspect } from './migrator/status-check.js';
import type {
  AdoptedHistory,
  HistoryOptions,
  HistoryResult,
  MigrationRunResult,
  Migrator,
  MigratorOptions,
  RunOptions,
} from './migrator/types.js';
import type { ForeignHistorySummary, StoreTarget } from './ports.js';
import type { MigrationInspection, MigrationStatus } from './status.js';

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

/** Hands each method to the module that does that job. */
class MigratorImpl<Db, F> implements Migrator<Db> {
  readonly #context: MigratorContext<Db, F>;

  constructor(options: MigratorOptions<Db, F>) {
    this.#context = new MigratorContext(options);
  }

  get target(): StoreTarget {
    return this.#context.store.target;
  }

  async local(): Promise<readonly Migration<Db>[]> {
    return (await this.#context.localHistory()).migrations;
  }

  async localDigest(): Promise<string> {
    return (await this.#context.localHistory()).digest;
  }

  status(): Promise<MigrationStatus> {
    return checkStatus(this.#context);
  }

  inspect(): Promise<MigrationInspection<Db>> {
    return inspect(this.#context);
  }

  up(options: RunOptions = {}): Promise<MigrationRunResult> {
    return runMigrations(this.#context, 'up', options);
  }

  down(options: RunOptions = {}): Promise<MigrationRunResult> {
    return runMigrations(this.#context, 'down', options);
  }

  adopt(options: HistoryOptions & { readonly history: AdoptedHistory }): Promise<HistoryResult> {
    return adopt(this.#context, options);
  }

  baseline(options: HistoryOptions & { readonly to: string }): Promise<HistoryResult> {
    return baseline(this.#context, options);
  }

  repair(options: HistoryOptions & { readonly forget?: string | undefined } = {}): Promise<HistoryResult> {
    return repair(this.#context, options);
  }

  async foreignHistories(): Promise<readonly ForeignHistorySummary[]> {
    // A store without an inspector cannot tell: nothing is reported.
    return (await this.#context.store.inspector?.foreignHistories()) ?? [];
  }
}
