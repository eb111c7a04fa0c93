import { InvalidOptionError, type LockHolder, type SessionLockPrimitive } from '@mig/core';
import type { MigrationDb } from '../sources.js';
import type { AdminLeasePrimitive, AdvisoryFence } from './fence.js';
import type { StoreTables } from './tables.js';

/** PLACEHOLDER: MySQL's GET_LOCK session lock (being written). */
export function createMysqlSessionPrimitive(_options: {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
}): SessionLockPrimitive<AdvisoryFence> {
  throw new InvalidOptionError('db', 'The MySQL lock is not written yet.');
}

/** PLACEHOLDER: the lease lock row on MySQL (being written). */
export function createMysqlLeasePrimitive(_options: {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
}): AdminLeasePrimitive {
  throw new InvalidOptionError('db', 'The MySQL lease is not written yet.');
}

/** PLACEHOLDER: who holds MySQL's GET_LOCK. */
export async function readMysqlLockHolder(_db: MigrationDb, _tables: StoreTables): Promise<LockHolder | null> {
  return null;
}
