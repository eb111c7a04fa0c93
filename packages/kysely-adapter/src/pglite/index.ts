export { PGliteDialect, type PGliteDialectOptions, type PGliteLike } from './pglite-dialect.js';
