export { ADVISORY_CLASS_ID, advisoryObjectId } from './advisory.js';
export { createPgDialect, type PgDialectOptions } from './dialect.js';
