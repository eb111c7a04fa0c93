import { describeThrown, MigError, MigErrorCode, sentence } from './base.js';

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
