import { describeThrown, isMigError, MigError, MigErrorCode, type MigrationDirection } from '../errors.js';
import type { Migration, MigrationModule } from '../migration.js';
import type { MigrationResult, MigrationRunResult, RunProgress } from '../migrator/types.js';
import type { Logger } from '../ports.js';
import type { MigrationStatus } from '../status.js';

/** The results of one run as they accumulate, and the run's progress callback made safe to call. */
export class RunRecord {
  readonly direction: MigrationDirection;
  readonly dryRun: boolean;
  readonly #results: MigrationResult[] = [];
  /** Reports progress to the caller; a callback that throws must not break the run (or strand the lock). */
  readonly progress: (event: RunProgress) => void;
  readonly #table: string;
  lockWaitMs = 0;

  constructor(
    direction: MigrationDirection,
    options: { dryRun?: boolean | undefined; onProgress?: ((event: RunProgress) => void) | undefined },
    logger: Logger,
    table: string,
  ) {
    this.direction = direction;
    this.dryRun = options.dryRun === true;
    this.progress = safeProgress(options.onProgress, logger);
    this.#table = table;
  }

  add(result: MigrationResult): void {
    this.#results.push(result);
  }

  /** Adds a result and reports it as the end of that migration. */
  ended(result: MigrationResult): void {
    this.#results.push(result);
    this.progress({ type: 'migration-end', result });
  }

  notRun<Db>(rest: readonly Migration<Db>[], modules: ReadonlyMap<string, MigrationModule<Db>>): void {
    for (const m of rest) {
      this.#results.push({
        name: m.name,
        direction: this.direction,
        status: 'not-run',
        durationMs: 0,
        transactional: modules.get(m.name)?.transactional ?? true,
      });
    }
  }

  get results(): readonly MigrationResult[] {
    return this.#results;
  }

  finish(error?: unknown, status?: MigrationStatus): MigrationRunResult {
    return {
      direction: this.direction,
      dryRun: this.dryRun,
      results: this.#results,
      error: error === undefined ? undefined : toMigError(error, this.#table),
      lockWaitMs: this.lockWaitMs,
      status,
    };
  }
}

/** A caller's progress callback, made safe: one that throws is logged and ignored. */
export function safeProgress(
  onProgress: ((event: RunProgress) => void) | undefined,
  logger: Logger,
): (event: RunProgress) => void {
  return (event) => {
    try {
      onProgress?.(event);
    } catch (error) {
      logger.warn({ err: describeThrown(error) }, 'an onProgress callback threw; ignored');
    }
  };
}

export function toMigError(error: unknown, table: string): MigError {
  if (isMigError(error)) return error;
  return new MigError(MigErrorCode.Store, `Migration run on ${table} failed: ${describeThrown(error)}`, {
    cause: error,
  });
}
