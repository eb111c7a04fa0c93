export { createMysqlDialect, type MysqlDialectOptions } from './mysql-dialect.js';
