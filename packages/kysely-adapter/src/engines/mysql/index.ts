export { createMysqlDialect, type MysqlDialectOptions } from './dialect.js';
