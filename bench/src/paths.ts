import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bench package's folder: this module runs from bench/dist. */
export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const README = join(BENCH_DIR, 'README.md');
