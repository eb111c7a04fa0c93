import { formatDuration } from './errors/stopped.js';

/**
 * Short lock attempts. A migration that waits for a table lock (an ALTER TABLE behind a long transaction)
 * holds every later query on that table in the queue behind it. So the engine waits one short attempt
 * (`ddlLockTimeoutMs`), then rolls back, lets the application's queries through, and tries again after a
 * backoff with jitter, until the budget (the migration lock timeout) is spent. Each wait names its blocker.
 */

/** A session that held what a migration's attempt waited for: no secrets (string literals of its query are elided). */
export interface TableLockBlocker {
  /** The server's id of the session (PostgreSQL backend pid, MySQL connection id). */
  readonly pid: number;
  /** Its application name (PostgreSQL) or user@host (MySQL), when the server has one. */
  readonly application?: string | undefined;
  /** `active`, `idle in transaction`, … as the server says it. */
  readonly state?: string | undefined;
  /** How long its transaction has been open, ms. */
  readonly transactionMs?: number | undefined;
  /** The start of its current or last query, string literals elided. */
  readonly query?: string | undefined;
}

/** One attempt that ran out of its lock timeout: reported before the next (or as the last). */
export interface TableLockWait {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** How long that attempt waited, ms. */
  readonly waitedMs: number;
  /** Time spent on all attempts so far, ms. */
  readonly elapsedMs: number;
  /** Who held the lock, as far as the engine could tell while it waited; empty when it could not. */
  readonly blockers: readonly TableLockBlocker[];
  /** The pause before the next attempt, ms; undefined when there is none (the budget is spent). */
  readonly retryInMs?: number | undefined;
}

/** Default length of one attempt: long enough for a quick lock, short enough that queued queries barely notice. */
export const DEFAULT_DDL_LOCK_TIMEOUT_MS = 1_000;

/** Most characters of a blocker's query that are shown. */
const QUERY_START = 80;

/** A query's start with its string literals elided, so that a password in it is never shown. */
export function queryStart(query: string | null | undefined): string | undefined {
  if (query === null || query === undefined) return undefined;
  const elided = query
    .replace(/\$([A-Za-z_]*)\$[\s\S]*?\$\1\$/g, "'…'")
    .replace(/\b[Ee]'(?:[^'\\]|\\[\s\S]|'')*'?/g, "'…'")
    .replace(/'(?:[^']|'')*'?/g, "'…'")
    .replace(/\s+/g, ' ')
    .trim();
  return elided.length > QUERY_START ? `${elided.slice(0, QUERY_START - 1)}…` : elided;
}

/** `pid 4242 (long-report, idle in transaction, transaction open 7 s: "select …")`. */
export function describeBlocker(blocker: TableLockBlocker): string {
  const details = [
    blocker.application ? blocker.application : undefined,
    blocker.state ? blocker.state : undefined,
    blocker.transactionMs === undefined ? undefined : `transaction open ${formatDuration(blocker.transactionMs)}`,
  ].filter((d): d is string => d !== undefined);
  const query = blocker.query ? `: "${blocker.query}"` : '';
  return `pid ${blocker.pid}${details.length > 0 || query ? ` (${details.join(', ')}${query})` : ''}`;
}

/** `waiting for pid 4242 (…) and pid 17 (…)`, or a plain sentence when the blocker was not seen. */
export function describeBlockers(blockers: readonly TableLockBlocker[]): string {
  if (blockers.length === 0) return 'waiting for a lock another session holds (it was gone before mig could name it)';
  return `waiting for ${blockers.map(describeBlocker).join(' and ')}`;
}

/** The pause before attempt `attempt + 1`: grows from 100 ms to 2 s, with jitter so instances do not align. */
export function lockRetryDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(2_000, 100 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.5 + random() * 0.5));
}

/**
 * The length of the next attempt: the attempt length, shortened to what is left of the budget. 0 `attemptMs`
 * means one attempt as long as the budget; 0 `budgetMs` means no budget (attempts for ever, each bounded).
 */
export function nextAttemptMs(attemptMs: number, budgetMs: number, elapsedMs: number): number {
  if (budgetMs <= 0) return attemptMs;
  const left = Math.max(0, budgetMs - elapsedMs);
  return attemptMs <= 0 ? left : Math.min(attemptMs, left);
}
