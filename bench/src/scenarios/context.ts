import type { Settings } from '../config.js';
import type { BenchDatabase } from '../db.js';
import type { MigrationFolder } from '../migrations.js';
import type { Mode } from '../types.js';

/** What every scenario gets from the runner. */
export interface BenchContext {
  readonly mode: Mode;
  readonly settings: Settings;
  /** Progress, on stderr so stdout keeps the summary clean. */
  log(message: string): void;
  /** The 100-migration folder, and a database where mig applied all of it: an up-to-date service's world. */
  readonly ready: { readonly folder: MigrationFolder; readonly database: BenchDatabase };
}
