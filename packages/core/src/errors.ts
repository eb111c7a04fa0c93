import type { StoreHead } from './head.js';
import { redactCredentials } from './url.js';

/**
 * Every error mig throws is a {@link MigError}: a stable `code` to branch on, a message that says what
 * happened and what to do, structured `context` for logs, and the original error as native `cause`.
 * Messages never contain passwords, connection strings or bound SQL parameters.
 */

export const MigErrorCode = {
  /** A migration's `up` or `down` threw; its changes were rolled back (unless it was non-transactional). */
  MigrationFailed: 'MIGRATION_FAILED',
  /** The migration source is unusable: missing or empty folder, duplicate names, a module without `up`. */
  InvalidSource: 'INVALID_SOURCE',
  /** Applied migrations disagree with the local ones: changed checksum, missing file, out of order. */
  Drift: 'DRIFT',
  /** A requested migration does not exist or cannot be reverted. */
  InvalidTarget: 'INVALID_TARGET',
  /** A migration ran longer than the migration timeout and was stopped. */
  MigrationTimeout: 'MIGRATION_TIMEOUT',
  /** The migration lock was not granted within the timeout. */
  LockTimeout: 'LOCK_TIMEOUT',
  /** The lock was lost while held (lease expired, backend terminated). */
  LockLost: 'LOCK_LOST',
  /** Someone else changed the applied set while this process was applying. */
  Conflict: 'CONFLICT',
  /** The operation was aborted by its signal or deadline before it started work. */
  Aborted: 'ABORTED',
  /** Migrations are pending and the policy refuses to serve. */
  Pending: 'PENDING',
  /** The database could not be reached within the connect timeout and retries. */
  ConnectFailed: 'CONNECT_FAILED',
  /** The store could not read or write its own tables. */
  Store: 'STORE',
  /** A bad option was passed to a mig API. */
  InvalidOption: 'INVALID_OPTION',
  /** The configuration (file, environment, flags) has bad values; every problem is listed at once. */
  InvalidConfig: 'CONFIG_INVALID',
  /**
   * The database has another migration tool's history and no mig records: running mig's migrations would
   * apply them a second time. Adopt that history (or baseline) first.
   */
  ForeignHistory: 'FOREIGN_HISTORY',
  /** An adoption or a baseline disagrees with what is in the database or the folder; nothing was recorded. */
  HistoryMismatch: 'HISTORY_MISMATCH',
} as const;

export type MigErrorCode = (typeof MigErrorCode)[keyof typeof MigErrorCode];

export interface MigErrorOptions {
  readonly cause?: unknown;
  /** Structured, secret-free values that explain the error (names, durations, counts). */
  readonly context?: Readonly<Record<string, unknown>>;
}

/**
 * The base of every error mig throws. Branch on `code` (stable), not on the message (for people).
 *
 * @example
 * const { error } = await migrator.up();
 * if (isMigError(error, MigErrorCode.LockTimeout)) console.warn('another instance is migrating');
 */
export class MigError extends Error {
  readonly code: MigErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: MigErrorCode, message: string, options: MigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MigError';
    this.code = code;
    this.context = Object.freeze({ ...options.context });
  }
}

/** True when `value` is a {@link MigError}, optionally with the given code. Works across package copies. */
export function isMigError(value: unknown, code?: MigErrorCode): value is MigError {
  if (!(value instanceof Error) || !('code' in value) || !('context' in value)) return false;
  const valueCode = (value as { code: unknown }).code;
  if (typeof valueCode !== 'string' || !Object.values(MigErrorCode).includes(valueCode as MigErrorCode)) {
    return false;
  }
  return code === undefined || valueCode === code;
}

/** `text` as a sentence: ends with one full stop (or the ? or ! it has). */
export function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** Describes a thrown value that may not be an Error (a string, an object, `undefined`). */
export function describeThrown(value: unknown): string {
  if (value instanceof Error) return value.message || value.name;
  if (typeof value === 'string') return value;
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // fall through: circular or otherwise unserialisable
  }
  return String(value);
}

/** A bad option passed to a mig API: which option, the value it got (when safe to show), and what it accepts. */
export class InvalidOptionError extends MigError {
  readonly option: string;

  constructor(option: string, message: string, options: MigErrorOptions = {}) {
    super(MigErrorCode.InvalidOption, message, { ...options, context: { option, ...options.context } });
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}

export type MigrationDirection = 'up' | 'down';

/** A migration's `up` or `down` threw. Says whether its changes were rolled back. */
export class MigrationFailedError extends MigError {
  readonly migration: string;
  readonly direction: MigrationDirection;

  /**
   * `note` adds what the caller knows of the aftermath, e.g. which statements of a migration that could
   * not run atomically had already taken effect, or what a failed index build left behind. `next` says what
   * to do; by default, fix the migration (not when the migration is not at fault: see `sessionEnded`).
   */
  constructor(
    migration: string,
    direction: MigrationDirection,
    cause: unknown,
    transactional: boolean,
    note?: string | undefined,
    next = 'Fix the migration and run again.',
  ) {
    const verb = direction === 'up' ? 'apply' : 'revert';
    const aftermath = transactional
      ? 'Its changes and its record were rolled back'
      : 'It ran outside a transaction, so statements that completed before the failure remain';
    super(
      MigErrorCode.MigrationFailed,
      `Failed to ${verb} migration "${migration}": ${sentence(describeThrown(cause))} ${aftermath}.` +
        `${note ? ` ${sentence(note)}` : ''} ${next}`,
      { cause, context: { migration, direction, transactional } },
    );
    this.name = 'MigrationFailedError';
    this.migration = migration;
    this.direction = direction;
  }

  /**
   * The migration's database session was ended from outside while it ran (an operator's
   * pg_terminate_backend or KILL, a failover, a restart): the migration is not at fault, and running it again
   * is what to do.
   */
  static sessionEnded(
    migration: string,
    direction: MigrationDirection,
    cause: unknown,
    transactional: boolean,
    note?: string | undefined,
  ): MigrationFailedError {
    return new MigrationFailedError(
      migration,
      direction,
      cause,
      transactional,
      note,
      'The database session running it was ended from outside (an operator ending it, a failover, a restart), ' +
        'not by the migration: run again.',
    );
  }
}

/** The migration source is unusable: a missing folder, duplicate names, a module without `up`. */
export class MigrationSourceError extends MigError {
  constructor(message: string, options: MigErrorOptions = {}) {
    super(MigErrorCode.InvalidSource, message, options);
    this.name = 'MigrationSourceError';
  }
}

export type MigrationProblem =
  | {
      /** An applied migration's content changed since it was applied. */
      readonly kind: 'changed';
      readonly name: string;
      readonly appliedChecksum: string;
      readonly localChecksum: string;
    }
  | {
      /** An applied migration has no local counterpart (file deleted or renamed). */
      readonly kind: 'missing';
      readonly name: string;
    }
  | {
      /** A local migration that was never applied sorts before the latest applied one. */
      readonly kind: 'out-of-order';
      readonly name: string;
      readonly latestApplied: string;
    };

export function describeProblem(problem: MigrationProblem): string {
  switch (problem.kind) {
    case 'changed':
      return `"${problem.name}" was changed after it was applied (checksum ${problem.appliedChecksum.slice(0, 12)} applied, ${problem.localChecksum.slice(0, 12)} now); restore the original and put the change in a new migration`;
    case 'missing':
      return `"${problem.name}" was applied but is no longer among the local migrations; restore it (or revert it on the database first)`;
    case 'out-of-order':
      return `"${problem.name}" is not applied but sorts before the applied "${problem.latestApplied}"; rename it so it sorts after "${problem.latestApplied}"`;
  }
}

/** Applied migrations disagree with the local ones; `problems` lists each case. Nothing was applied. */
export class MigrationDriftError extends MigError {
  readonly problems: readonly MigrationProblem[];

  constructor(problems: readonly MigrationProblem[]) {
    const lines = problems.map((p) => `  - ${describeProblem(p)}`).join('\n');
    super(MigErrorCode.Drift, `The applied migrations do not match the local ones; nothing was applied:\n${lines}`, {
      context: { problems: problems.map((p) => `${p.kind}:${p.name}`) },
    });
    this.name = 'MigrationDriftError';
    this.problems = problems;
  }
}

export interface LockHolder {
  /** Who holds the lock, as the lock strategy knows it (an owner id, or "pid 1234"). */
  readonly owner?: string | undefined;
  readonly pid?: number | undefined;
  readonly applicationName?: string | undefined;
  /** When the holder took the lock (or started its current statement, when that is all that is known). */
  readonly since?: Date | undefined;
  readonly expiresAt?: Date | undefined;
  /**
   * What stands in the way is not a mig instance holding the lock (a writer holding a SQLite file's write
   * lock, say): waiting for "another instance" is not the advice then.
   */
  readonly outsideMig?: boolean | undefined;
}

export function describeHolder(holder: LockHolder | null | undefined, now: Date = new Date()): string {
  if (!holder) return 'an unknown holder';
  const who: string[] = [];
  if (holder.owner) who.push(holder.owner);
  if (holder.pid !== undefined) who.push(`backend pid ${holder.pid}`);
  if (holder.applicationName) who.push(`application "${holder.applicationName}"`);
  let text = who.length > 0 ? who.join(', ') : 'an unknown holder';
  if (holder.since) {
    const seconds = Math.max(0, (now.getTime() - holder.since.getTime()) / 1000);
    text += ` since ${holder.since.toISOString()} (${seconds.toFixed(1)} s)`;
  }
  if (holder.expiresAt) text += `, lease expires ${holder.expiresAt.toISOString()}`;
  return text;
}

/**
 * The lock was not granted in time. A lock throws it when its wait runs out, and every field is required:
 * the message (and `mig`'s exit code 3, and the service's report) is built from them.
 *
 * - `key`: what is locked, as `MigrationLock.key` says it.
 * - `waitedMs`: the whole wait, from the call to `acquire` to the moment it gave up (opening a session and
 *   every attempt included), not the last attempt's; at least the timeout it was given.
 * - `holder`: who held the lock, as last looked up (an owner, a pid, since when, a lease's expiry). Pass
 *   `null` only when the lock cannot tell who holds it: the message then says "an unknown holder", and the
 *   lock contract's `a timeout names the holder` case fails unless the harness says `namesHolder: false`.
 *
 * @example
 * throw new LockTimeoutError(primitive.key, clock.now() - startedAt, await session.holder());
 */
export class LockTimeoutError extends MigError {
  /** The whole wait, in milliseconds (see the class). */
  readonly waitedMs: number;
  readonly key: string;
  /** Who held the lock, as last looked up; null when the lock could not tell. */
  readonly holder: LockHolder | null;

  constructor(key: string, waitedMs: number, holder: LockHolder | null) {
    super(
      MigErrorCode.LockTimeout,
      `Timed out after ${Math.round(waitedMs)} ms waiting for the migration lock ${key}, held by ${describeHolder(holder)}. ` +
        (holder?.outsideMig
          ? 'That is not a mig instance: let it finish, or stop it, then run again.'
          : 'Another instance is probably migrating: wait for it, raise the lock timeout, or check that holder.'),
      { context: { key, waitedMs: Math.round(waitedMs), holder } },
    );
    this.name = 'LockTimeoutError';
    this.waitedMs = waitedMs;
    this.key = key;
    this.holder = holder;
  }
}

/** A signal or a deadline stopped the operation before it started its next piece of work. */
export class AbortedError extends MigError {
  /** `what` says what stopped, e.g. 'Stopped before migration "002_x" started'; the reason is appended. */
  constructor(what: string, reason: unknown) {
    super(MigErrorCode.Aborted, `${what}: ${describeThrown(reason)}.`, {
      cause: reason,
      context: { what },
    });
    this.name = 'AbortedError';
  }
}

/** What stopping a running migration left: rolled back with its transaction, or what ran outside one. */
function stoppedAftermath(transactional: boolean): string {
  return transactional
    ? 'Its transaction was rolled back where the engine can (its changes and its record with it)'
    : 'It ran outside a transaction, so what it did before it was stopped remains';
}

/**
 * A migration ran longer than the migration timeout: it was stopped (its session ended, its transaction
 * rolled back where the engine can), it was not recorded, and the lock was let go.
 */
export class MigrationTimeoutError extends MigError {
  readonly migration: string;
  readonly timeoutMs: number;

  constructor(migration: string, timeoutMs: number, transactional: boolean) {
    super(
      MigErrorCode.MigrationTimeout,
      `Migration "${migration}" ran longer than the migration timeout of ${formatDuration(timeoutMs)} and was stopped; ` +
        `it was not recorded. ${stoppedAftermath(transactional)}. Find out what it waits for (a lock another ` +
        'session holds, a promise that never settles, a slow statement), or give it a longer migration timeout.',
      { context: { migration, timeoutMs, transactional } },
    );
    this.name = 'MigrationTimeoutError';
    this.migration = migration;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A running migration was stopped from outside (a signal, a shutdown that would not wait longer): its session
 * ended, its transaction rolled back where the engine can, and it was not recorded.
 */
export class MigrationInterruptedError extends MigError {
  readonly migration: string;

  constructor(migration: string, reason: unknown, transactional: boolean) {
    super(
      MigErrorCode.Aborted,
      `Migration "${migration}" was stopped while it ran (${sentence(describeThrown(reason)).slice(0, -1)}); it was ` +
        `not recorded. ${stoppedAftermath(transactional)}. The next run applies it again.`,
      { cause: reason, context: { migration, what: 'stopped while running', transactional } },
    );
    this.name = 'MigrationInterruptedError';
    this.migration = migration;
  }
}

/** "250 ms", "30 s", "2 min", "1.5 h": a duration for a message. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))} s`;
  if (ms < 3_600_000) return `${Number((ms / 60_000).toFixed(1))} min`;
  return `${Number((ms / 3_600_000).toFixed(1))} h`;
}

/** Migrations are pending and the service's policy refuses to serve until they are applied. */
export class PendingMigrationsError extends MigError {
  readonly pending: readonly string[];

  constructor(pending: readonly string[]) {
    const shown = pending
      .slice(0, 5)
      .map((n) => `"${n}"`)
      .join(', ');
    const more = pending.length > 5 ? ` and ${pending.length - 5} more` : '';
    super(
      MigErrorCode.Pending,
      `${pending.length} migration(s) pending (${shown}${more}) and automatic migration is off. ` +
        "Apply them (the migrator's up(), or turn automatic migration on), then retry.",
      { context: { pending: pending.length } },
    );
    this.name = 'PendingMigrationsError';
    this.pending = pending;
  }
}

/**
 * The lock was lost while held (a lease that expired, a session that ended, a pooler that swapped the
 * session). `reason` says which, for an edge that turns it into advice.
 */
export class LockLostError extends MigError {
  readonly key: string;

  constructor(key: string, why: string, reason: LockLostReason = 'lost') {
    super(
      MigErrorCode.LockLost,
      `The migration lock ${key} was lost: ${why}. Nothing more was applied or recorded under it; run again.`,
      { context: { key, reason } },
    );
    this.name = 'LockLostError';
    this.key = key;
  }
}

/**
 * The lost-lock errors every lock and store raises, worded once: a lease whose token expired or was taken
 * over, and a session lock that the session running the work does not hold.
 */
export const lockLost = {
  /** A lease whose token expired, or that another instance took over. */
  leaseExpired(key: string, token: string): LockLostError {
    return new LockLostError(key, `lease token ${token} expired or was taken over by another instance`, 'expired');
  },
  /**
   * A session lock (PostgreSQL advisory lock, MySQL GET_LOCK) not held by the session doing the work; `why`
   * says what the engine knows of it (a transaction pooler, a reset connection).
   */
  notHeldBySession(key: string, why: string): LockLostError {
    return new LockLostError(key, why, 'session-not-holder');
  },
} as const;

/** Why a lock was lost: `session-not-holder` is what a transaction pooler does to a session lock. */
export type LockLostReason = 'lost' | 'expired' | 'session-not-holder';

/**
 * Another writer moved the store's head while this process applied: nothing was recorded for it. A store
 * throws it from the head compare-and-swap of `apply`, `revert`, `record` and `rewrite`, with the head the
 * caller expected and the one it found (null when it could not read it); the message says which differs,
 * the count or, at the same count, the digest (another history of the same length).
 *
 * @example
 * if (found.count !== expected.count || found.digest !== expected.digest) throw new MigrationConflictError(name, expected, found);
 */
export class MigrationConflictError extends MigError {
  readonly migration: string;
  readonly expected: StoreHead;
  readonly found: StoreHead | null;

  constructor(migration: string, expected: StoreHead, found: StoreHead | null) {
    super(
      MigErrorCode.Conflict,
      `The applied history changed while "${migration}" was being applied (${describeHeads(expected, found)}): ` +
        'another process migrated the same database without sharing this lock. Nothing was recorded for it; run again.',
      {
        context: {
          migration,
          expectedCount: expected.count,
          foundCount: found?.count ?? null,
          expectedDigest: expected.digest,
          foundDigest: found?.digest ?? null,
        },
      },
    );
    this.name = 'MigrationConflictError';
    this.migration = migration;
    this.expected = expected;
    this.found = found;
  }
}

/** What differs between two heads, for a conflict's message. */
function describeHeads(expected: StoreHead, found: StoreHead | null): string {
  if (found === null) return `expected ${expected.count} applied, and the head could not be read`;
  if (found.count !== expected.count) return `expected ${expected.count} applied, found ${found.count}`;
  return (
    `${expected.count} applied as expected, but another history: head digest ${found.digest.slice(0, 12)}, ` +
    `expected ${expected.digest.slice(0, 12)}`
  );
}

/**
 * A requested migration cannot be the target of the operation: no migration or record of that name, a
 * revert of a migration without a `down` (or applied by a newer version, or written for another tool).
 * Nothing was applied or reverted. `targets` names what was asked for.
 *
 * @example
 * if (!module.down) throw new InvalidTargetError(name, `Migration "${name}" has no down migration; nothing was reverted.`);
 */
export class InvalidTargetError extends MigError {
  readonly targets: readonly string[];

  /** `context` defaults to `{ migrations: targets }`. */
  constructor(targets: string | readonly string[], message: string, options: MigErrorOptions = {}) {
    const list = typeof targets === 'string' ? [targets] : [...targets];
    super(MigErrorCode.InvalidTarget, message, { ...options, context: options.context ?? { migrations: list } });
    this.name = 'InvalidTargetError';
    this.targets = Object.freeze(list);
  }
}

/**
 * Another tool's migration history and no mig records: mig refuses to apply migrations that tool may have
 * applied already. `histories` says which tool, where, and how many.
 */
export class ForeignHistoryError extends MigError {
  readonly histories: readonly { tool: string; table: string; applied: number }[];

  constructor(histories: readonly { tool: string; table: string; applied: number }[]) {
    const found = histories.map((h) => `${h.tool} (${h.applied} applied, in ${h.table})`).join(', ');
    super(
      MigErrorCode.ForeignHistory,
      `The database has the migration history of ${found} and no mig records: applying mig's migrations now ` +
        "would run them a second time. Adopt that history first (the migrator's adopt()), or baseline; nothing was applied.",
      { context: { tools: histories.map((h) => h.tool), tool: histories[0]?.tool } },
    );
    this.name = 'ForeignHistoryError';
    this.histories = histories;
  }
}

/** An adoption, baseline or repair that cannot go ahead: each case is named; nothing was recorded. */
export class HistoryMismatchError extends MigError {
  readonly cases: readonly string[];

  constructor(what: string, cases: readonly string[], context: Readonly<Record<string, unknown>> = {}) {
    super(MigErrorCode.HistoryMismatch, `${what}; nothing was recorded:\n${cases.map((c) => `  - ${c}`).join('\n')}`, {
      context: { ...context, cases: cases.length },
    });
    this.name = 'HistoryMismatchError';
    this.cases = cases;
  }
}

/** The database could not be reached within the connect timeout and retries. */
export class ConnectionError extends MigError {
  readonly attempts: number;

  constructor(target: string, attempts: number, elapsedMs: number, cause: unknown) {
    super(
      MigErrorCode.ConnectFailed,
      redactCredentials(
        `Could not connect to ${target} after ${attempts} attempt(s) over ${(elapsedMs / 1000).toFixed(1)} s: ${sentence(describeThrown(cause))} ` +
          'Check that the database is up and reachable from here, and the connection settings.',
      ),
      { cause, context: { target, attempts, elapsedMs: Math.round(elapsedMs) } },
    );
    this.name = 'ConnectionError';
    this.attempts = attempts;
  }
}
