// The migrator's public types (its options, its results and progress events, the histories adopt takes),
// apart from its implementation so that every job module can use them without
// importing the façade (`../migrator.ts`) that puts the jobs together.
import type { Clock } from '../clock.js';
import type { TransactionMode } from '../defaults.js';
import type { MigError, MigrationDirection } from '../errors.js';
import type { Migration, MigrationSource } from '../migration.js';
import type { ForeignHistorySummary, LockWait, Logger, MigrationLock, MigrationStore, StoreTarget } from '../ports.js';
import type { MigrationInspection, MigrationStatus } from '../status.js';
import type { TelemetryOptions } from '../telemetry.js';

export interface RunOptions {
  /** `up`: apply up to and including this migration. `down`: revert every migration applied after it. */
  readonly to?: string | undefined;
  /** `down` only: revert every applied migration. */
  readonly all?: boolean | undefined;
  /** Plan and preview; write nothing at all (not even mig's own tables). */
  readonly dryRun?: boolean | undefined;
  /** Stops before the next migration starts (and a wait for the lock); a running migration goes on. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Stops the running migration too: its session is ended and its transaction rolled back where the engine
   * can, it is not recorded, and the lock is let go. A shutdown aborts `signal` first, and this one after a
   * grace period if the migration has not finished.
   */
  readonly interrupt?: AbortSignal | undefined;
  /** Longest run of one migration; overrides the migrator's `migrationTimeoutMs`. */
  readonly migrationTimeoutMs?: number | undefined;
  /** Longest wait for the lock; overrides the migrator's `lockTimeoutMs`. */
  readonly lockTimeoutMs?: number | undefined;
  /** `up` only: each migration in its own transaction, or all in one; overrides the migrator's `transaction`. */
  readonly transaction?: TransactionMode | undefined;
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
  /**
   * Longest run of one migration: past it, the migration is stopped (its session ended, its transaction
   * rolled back where the engine can), not recorded, and the lock let go. Default none: a real migration
   * may take hours.
   */
  readonly migrationTimeoutMs?: number | undefined;
  /**
   * How `up` uses transactions. `each` (the default): each migration in its own transaction with its record,
   * so a failure keeps the migrations before it. `all`: every pending migration and its record in one
   * transaction, so a failure leaves nothing; refused, before anything runs, where the engine commits DDL
   * implicitly (MySQL) or when a pending migration runs outside a transaction. `down` always reverts each in
   * its own. In `all`, the migration timeout bounds the whole transaction.
   */
  readonly transaction?: TransactionMode | undefined;
  readonly logger?: Logger | undefined;
  /** The migrator's time (migration timeouts). Injected in tests. */
  readonly clock?: Clock | undefined;
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
  /**
   * Other migration tools' histories in the database (non-empty ones), as the store's inspector finds them;
   * empty when the store has no inspector.
   */
  foreignHistories(): Promise<readonly ForeignHistorySummary[]>;
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

/** What a run reports as it goes: lock waits, each migration's start and end (for a CLI's output). */
export type RunProgress =
  | { readonly type: 'lock-wait'; readonly wait: LockWait }
  | { readonly type: 'lock-acquired'; readonly waitedMs: number }
  | { readonly type: 'migration-start'; readonly name: string; readonly direction: MigrationDirection }
  | { readonly type: 'migration-end'; readonly result: MigrationResult };

/** Another tool's history, as an adapter reads it. */
export interface AdoptedHistory {
  /** "kysely", "knex", "node-pg-migrate", "drizzle". */
  readonly tool: string;
  /** Where it was read, for messages, e.g. "public.kysely_migration". */
  readonly table?: string | undefined;
  /** Applied migrations as mig names them (file names without extension), in the tool's applied order. */
  readonly applied: readonly string[];
  /** mig can run these files itself (see `AppliedMigration.runnable`). */
  readonly runnable: boolean;
  /** Entries the reader could not map to a file name, each said in a sentence. */
  readonly unmatched?: readonly string[] | undefined;
}

/** One change a repair makes, for the report. */
export type RepairChange =
  | { readonly kind: 'checksum'; readonly name: string; readonly from: string; readonly to: string }
  | { readonly kind: 'forget'; readonly name: string; readonly checksum: string };
