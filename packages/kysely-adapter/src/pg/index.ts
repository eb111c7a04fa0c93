export { createPgDialect, type PgDialectOptions } from './pg-dialect.js';
