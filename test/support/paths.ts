import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Kept between runs: initialising a PGlite data directory is the slow part of starting one. */
export const PGLITE_TEMPLATE = join(ROOT, 'node_modules', '.cache', 'mig-test', 'pglite-template');
