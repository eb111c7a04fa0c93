export { type PgBouncer, type PgBouncerOptions, type PgBouncerStats, startPgBouncer } from './pgbouncer.js';
