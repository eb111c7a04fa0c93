/** SQLSTATE of a driver error (pg and PGlite both expose `code`), or undefined. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The relation or schema does not exist: mig's tables were never created. */
export function isUndefinedTable(error: unknown): boolean {
  const state = sqlState(error);
  return state === '42P01' || state === '3F000';
}

/**
 * Raised when two sessions create the same table, type or schema at the same moment: the loser's
 * `IF NOT EXISTS` check passed before the winner committed. Retrying then finds it exists.
 */
export function isConcurrentCreate(error: unknown): boolean {
  const state = sqlState(error);
  return state === '23505' || state === '42P07' || state === '42710' || state === '42P06';
}
