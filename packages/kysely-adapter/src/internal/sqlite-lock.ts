import { InvalidOptionError } from '@mig/core';
import type { MigrationDb } from '../sources.js';
import type { AdminLeasePrimitive } from './fence.js';
import type { StoreTables } from './tables.js';

/** PLACEHOLDER: the lease lock row on a SQLite file (being written). */
export function createSqliteLeasePrimitive(_options: {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
}): AdminLeasePrimitive {
  throw new InvalidOptionError('db', 'The SQLite lease is not written yet.');
}
