export { createLibsqlDialect, type LibsqlDialectOptions } from './dialect.js';
