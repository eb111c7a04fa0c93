export { createNeonHttpDialect, type NeonHttpDialectOptions } from './dialect.js';
export { readNeonHttpUrl } from './url.js';
