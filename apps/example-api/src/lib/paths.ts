import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The app's folder, whether running from src (tests) or dist (built). */
export const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where the embedded database keeps its data between runs (git-ignored). */
export const DEFAULT_PGLITE_DIR = join(APP_DIR, '.data', 'pglite');
