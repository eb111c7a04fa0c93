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
  /**
   * A migration was not applied: lint found statements in it that lock or rewrite a table in production,
   * and no `-- mig:allow` accepts them (the service migrating itself in production, `lint: 'error'`).
   */
  LintRefused: 'LINT_REFUSED',
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
