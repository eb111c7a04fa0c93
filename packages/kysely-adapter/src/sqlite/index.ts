export { createSqliteDialect, type SqliteDialectOptions } from './sqlite-dialect.js';
