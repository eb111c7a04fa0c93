export { PGliteDialect, type PGliteDialectOptions, type PGliteLike } from './dialect.js';
