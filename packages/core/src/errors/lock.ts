import { MigError, MigErrorCode } from './base.js';

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
