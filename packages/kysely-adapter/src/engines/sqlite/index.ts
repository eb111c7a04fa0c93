export { createSqliteDialect, DEFAULT_SQLITE_BUSY_TIMEOUT_MS, type SqliteDialectOptions } from './dialect.js';
