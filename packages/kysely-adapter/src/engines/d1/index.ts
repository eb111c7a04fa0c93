export type { D1DatabaseLike, D1ResultLike, D1StatementLike } from './binding.js';
export { createD1Dialect } from './dialect.js';
