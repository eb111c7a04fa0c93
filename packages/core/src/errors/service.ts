import { redactCredentials } from '../url.js';
import { describeThrown, MigError, MigErrorCode, sentence } from './base.js';

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
