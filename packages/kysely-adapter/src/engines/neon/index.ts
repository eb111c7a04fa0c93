export { createNeonDialect, type NeonDialectOptions } from './dialect.js';
export { type NeonSocketOptions, type NeonUrl, readNeonUrl } from './url.js';
