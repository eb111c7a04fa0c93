import { InvalidOptionError } from '@mig/core';

/** libSQL's client opens a new connection for each transaction: an in-memory database would not survive one. */
export function memoryRefused(option: string): InvalidOptionError {
  return new InvalidOptionError(
    option,
    "A libSQL database in memory does not outlive a transaction (libSQL's client opens a new connection for " +
      'each): name a file (libsql+file:./data/app.db), or use sqlite::memory: for a database in memory.',
    { context: { reason: 'libsql-memory' } },
  );
}

/**
 * A libSQL server refused a request for now, not for good: it answered 429 (too many requests), 502, 503 or
 * 504 (restarting, overloaded, behind a proxy that lost it). A local file is never refused so: a busy file
 * is a lock wait (SQLITE_BUSY).
 */
export function isTransientLibsqlError(error: unknown): boolean {
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: { status?: unknown } | null };
  return code === 'SERVER_ERROR' && [429, 502, 503, 504].includes(Number(cause?.status));
}
