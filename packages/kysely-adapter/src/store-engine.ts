import { type AppliedMigration, type Logger, MigError, MigErrorCode, type Migration } from '@mig/core';
import type {
  ApplyOptions,
  Leftover,
  MigrationDirection,
  RecordOptions,
  RecordOrigin,
  RecordRewrite,
  StoreHead,
  TableLockWait,
} from '@mig/core/adapter';
import type { MigrationDb } from './db.js';
import type { KyselyFence } from './fence.js';
import type { StoreTables } from './tables.js';

/**
 * Version of mig's own tables; a store refuses tables written by a newer version, and brings older ones up
 * to date in `prepare`. 2: records say how they came to be (origin, adopted_from, runnable) and keep the
 * checksums a repair replaced.
 */
export const STORE_SCHEMA_VERSION = 2;

/**
 * The SQL of mig's store on one database engine. `KyselyStore` does what is the same everywhere (the
 * port's contract, spans, errors, the order of things); an engine does what its SQL and its transactions
 * make different. Every method takes the Kysely instance to work on: the store's own, or the lock session's
 * when the store is bound to an advisory lock. Each engine passes `describeStoreContract` of
 * `@mig/core/testing` through `KyselyStore`.
 */
export interface StoreEngine {
  /** mig's tables as this engine names them. */
  readonly tables: StoreTables;
  /** The schema version of mig's tables, 0 for tables without one, null when they do not exist. */
  schemaVersion(db: MigrationDb): Promise<number | null>;
  /** Creates the tables at {@link STORE_SCHEMA_VERSION}, or upgrades those of `fromVersion`; idempotent. */
  createTables(db: MigrationDb, fromVersion: number | null): Promise<void>;
  /** Lost a race with another process creating (or upgrading) the same tables: trying again will do. */
  isRetryableCreate(error: unknown): boolean;
  /** The head (null when the tables do not exist). One round trip. */
  readHead(db: MigrationDb): Promise<StoreHead | null>;
  /** Every record in applied order (empty when the tables do not exist). */
  readRecords(db: MigrationDb): Promise<readonly RecordRow[]>;
  /** The latest `count` records, newest first. */
  latest(db: MigrationDb, count: number): Promise<readonly { name: string; digest: string }[]>;
  /**
   * A transactional step: in one transaction, the head checked against `step.expected` (and locked), for a
   * revert the order checked, the migration run (`step.script` whole when the engine can send it with its
   * own statements, else `run`), the fence checked, the record written or removed and the head moved.
   */
  changeInTransaction(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void>;
  /**
   * Several transactional `up` steps in one transaction (`transaction: 'all'`): the head checked against the
   * first step's `expected` and locked, each migration run and its record written in order (`hooks` told as
   * each starts and has run), the fence checked after the last, the head moved to the last step's `next`, one
   * commit. A failure rolls everything back. Absent where the engine cannot roll back DDL: see
   * `singleTransactionRefused`.
   */
  changeAll?(
    db: MigrationDb,
    steps: readonly Step[],
    run: (step: Step, db: MigrationDb) => Promise<void>,
    hooks: AllHooks,
  ): Promise<void>;
  /** Why this engine has no `changeAll`, in a clause ("MySQL commits each DDL statement …"). */
  readonly singleTransactionRefused?: string | undefined;
  /**
   * A step outside a transaction: head, order and fence proven first, the migration run on one connection,
   * then its record in a transaction. A failure says what the migration left behind, where the engine knows.
   */
  changeOutside(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void>;
  /** Records without running (adopt, baseline), in one transaction on the head, under the fence. */
  record(
    db: MigrationDb,
    migrations: readonly Migration<MigrationDb>[],
    options: RecordOptions<KyselyFence>,
  ): Promise<StoreHead>;
  /** Checksums replaced and records removed (repair), digests rebuilt, in one transaction on the head. */
  rewrite(db: MigrationDb, changes: RecordRewrite, options: ApplyOptions<KyselyFence>): Promise<StoreHead>;
  leftovers(db: MigrationDb, migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]>;
  /**
   * Ends a running step at once, from another session where it takes one (its session terminated, which
   * rolls its transaction back) or on its own connection (a ROLLBACK, for an engine in this process). `db`
   * is the store's own pool, never the step's session. Optional: without it, a stopped step is only kept from
   * starting new statements.
   */
  stop?(db: MigrationDb, step: Step): Promise<void>;
  /** mig's own checks, failed inside the engine's SQL, back as mig's errors (CONFLICT, LOCK_LOST); others as they are. */
  translate(db: MigrationDb, error: unknown, step: Step): Promise<unknown>;
  /** The relation does not exist (mig's tables were never created). */
  isUndefinedTable(error: unknown): boolean;
}

/** What `changeAll` tells as it goes: each migration's start, and its end with how long it ran. */
export interface AllHooks {
  onStart(step: Step): void;
  onRan(step: Step, durationMs: number): void;
}

/** One migration's run: what it is, which way, on which head, under which fence, and the head it leads to. */
export interface Step {
  readonly migration: Migration<MigrationDb>;
  readonly direction: MigrationDirection;
  readonly transactional: boolean;
  readonly expected: StoreHead;
  readonly fence: KyselyFence;
  readonly next: StoreHead;
  /** The text of a SQL migration in this direction, for an engine that sends it whole. */
  readonly script?: string | undefined;
  /** Longest run of each of its statements, ms (the migration's own, else the store's); 0 for none. */
  readonly statementTimeoutMs: number;
  /** Wraps the round trip that writes the record in the `mig.record` span (`withMigration`: it runs the migration too). */
  recordSpan<T>(withMigration: boolean, work: () => Promise<T>): Promise<T>;
  /**
   * Aborted when the migration must stop while it runs: the engine starts no further statement of it, and
   * its `stop` ends what runs. What the engine needs for that is kept in `running`.
   */
  readonly signal?: AbortSignal | undefined;
  /** Where the step runs, as the engine noted it when it began (a backend pid, a connection id, a connection). */
  readonly running: StepSession;
  /** The store's own pool, to look at the step's session from another one (who blocks it). */
  readonly pool: MigrationDb;
  /** Told each time an attempt ran out of its short table-lock timeout (see `ApplyOptions.onLockWait`). */
  readonly onLockWait?: ((wait: TableLockWait) => void) | undefined;
}

/** What an engine notes of the session a step runs on, so that `stop` can end it. */
export interface StepSession {
  /** The server's id of the session (MySQL's connection id). */
  id?: string | undefined;
  /** The connection itself, for an engine that stops a step on it (a ROLLBACK, where no other session can). */
  conn?: MigrationDb | undefined;
}

/** Throws the step's stop reason when it was stopped: a step starts no statement after that. */
export function throwIfStopped(step: Step): void {
  if (step.signal?.aborted) throw step.signal.reason;
}

/** What an engine needs to know beyond its tables. */
export interface EngineSettings {
  /** PostgreSQL 14+: client_connection_check_interval inside a migration, ms; 0 for none. */
  readonly clientCheckIntervalMs: number;
  /**
   * Longest wait of a migration for a lock another session holds, ms, over all its attempts (the budget); 0
   * for none.
   */
  readonly lockWaitTimeoutMs: number;
  /**
   * One attempt's wait for a table lock, ms, after which the migration's transaction is rolled back (letting
   * the application's queries through) and tried again, within `lockWaitTimeoutMs`; 0 for one long attempt.
   */
  readonly ddlLockTimeoutMs: number;
  /** Longest run of a statement inside a migration, ms, unless the migration says otherwise; 0 for none. */
  readonly statementTimeoutMs: number;
  /** Where the engine says what it repairs by itself. */
  readonly logger: Logger;
  /**
   * Longest time a migration's transaction may be idle before the server ends its session (a wedged or
   * vanished process never holds it for ever), ms; 0 for none.
   */
  readonly idleInTransactionMs: number;
  /**
   * A tenant's namespace (its schema on PostgreSQL, its database on MySQL): each migration runs with it as
   * the default for unqualified names, and the connection goes back to the pool as it was. Undefined: as
   * the connection is.
   */
  readonly runIn?: string | undefined;
}

/** A record row as engines read it; the columns after `transactional` are absent from tables of version 1. */
export interface RecordRow {
  name: string;
  checksum: string;
  digest: string;
  applied_at: Date | string;
  duration_ms: number | string | null;
  transactional: boolean | number;
  origin?: string | null;
  adopted_from?: string | null;
  runnable?: boolean | number | null;
  repairs?: string | null;
}

const ORIGINS: readonly RecordOrigin[] = ['applied', 'baseline', 'adopted'];

/** A record row as the port's AppliedMigration; booleans stored as 0/1 (MySQL, SQLite) read as booleans. */
export function toApplied(r: RecordRow): AppliedMigration {
  return {
    name: r.name,
    checksum: r.checksum,
    digest: r.digest,
    appliedAt: r.applied_at instanceof Date ? r.applied_at : new Date(r.applied_at),
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    transactional: Boolean(r.transactional),
    origin: ORIGINS.find((o) => o === r.origin) ?? 'applied',
    adoptedFrom: r.adopted_from ?? null,
    runnable: r.runnable === null || r.runnable === undefined ? true : Boolean(r.runnable),
    repairs: parseRepairs(r.repairs).map((x) => ({ checksum: x.checksum, at: new Date(x.at) })),
  };
}

/** The `repairs` column: a JSON list of `{ checksum, at }`, oldest first; anything else reads as none. */
export function parseRepairs(text: string | null | undefined): Array<{ checksum: string; at: string }> {
  try {
    const list: unknown = JSON.parse(text ?? '[]');
    return Array.isArray(list)
      ? list.filter((x): x is { checksum: string; at: string } => typeof x?.checksum === 'string')
      : [];
  } catch {
    return [];
  }
}

/** A revert of anything but the latest applied migration: refused, nothing changed. */
export function notLatest(name: string, latest: string | null): MigError {
  return new MigError(
    MigErrorCode.Conflict,
    `Cannot revert "${name}": the latest applied migration is ${latest ? `"${latest}"` : 'none'}. Revert in reverse order; nothing was changed.`,
    { context: { migration: name, latest } },
  );
}

/** How long `fn` took, ms. */
export async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}
