import { type PgBouncer, type PgBouncerOptions, startPgBouncer as start } from '@mig/pgbouncer';
import { PG_ADMIN_URL } from './postgres.js';

export type { PgBouncer };

/** A real PgBouncer in front of the test PostgreSQL (see @mig/pgbouncer, which the bench uses too). */
export function startPgBouncer(options: Omit<PgBouncerOptions, 'upstream'>): Promise<PgBouncer> {
  return start({ upstream: PG_ADMIN_URL, ...options });
}
