/** SQLSTATE of a driver error (pg and PGlite both expose `code`), or undefined. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * A connection refused for now, not for good: the server has too many clients (many instances starting at
 * once) or is starting up. Retrying after a pause succeeds once others let go.
 */
export function isTransientConnectionError(error: unknown): boolean {
  const state = sqlState(error);
  return state === '53300' || state === '57P03' || state === '53000';
}

/** The relation or schema does not exist: mig's tables were never created. */
export function isUndefinedTable(error: unknown): boolean {
  const state = sqlState(error);
  return state === '42P01' || state === '3F000';
}

/**
 * Raised when two sessions create (or upgrade) the same tables at the same moment: the loser's
 * `IF NOT EXISTS` check passed before the winner committed, or the two deadlocked. Retrying then finds
 * them done.
 */
export function isConcurrentCreate(error: unknown): boolean {
  const state = sqlState(error);
  return state === '23505' || state === '42P07' || state === '42710' || state === '42P06' || state === '40P01';
}

/**
 * The session was ended from outside: terminated by an operator or an administrator command (57P01), a
 * crash or restart of the server (57P02, 57P03), a broken connection (08xxx), or the client noticing the
 * connection gone.
 */
export function isSessionEnded(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== undefined) return state === '57P01' || state === '57P02' || state === '57P03' || state.startsWith('08');
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && /connection terminated|terminating connection|not queryable/i.test(message);
}
