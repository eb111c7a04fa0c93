import { InvalidOptionError } from '@mig/core';
import type { Dialect } from 'kysely';

export interface MysqlDialectOptions {
  /** A mysql:// (or mariadb://) URL. */
  readonly url: string;
  readonly maxConnections?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly onConnectionError?: ((error: Error) => void) | undefined;
}

/** PLACEHOLDER: Kysely's MysqlDialect on a mysql2 pool (being written). */
export function createMysqlDialect(_options: MysqlDialectOptions): Dialect {
  throw new InvalidOptionError('url', 'MySQL is not written yet.');
}
