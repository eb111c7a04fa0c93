import type { LeasePrimitive, LockHolder } from '@mig/core/adapter';
import type { MigrationDb } from './db.js';

/** A held session lock (an advisory lock): the lock's own session, on which all work under it runs. */
export interface AdvisoryFence {
  readonly kind: 'advisory';
  /** What is locked, for messages. */
  readonly key: string;
  /**
   * The lock as the engine names it, so its fence check need not look it up again (MySQL's GET_LOCK name);
   * absent where the check derives it from the store's tables.
   */
  readonly lockName?: string | undefined;
  /** A Kysely bound to the session that holds the lock. */
  readonly db: MigrationDb;
}

/** Proof that a lease is held: the lock row's key and the token granted with it. */
export interface LeaseFence {
  readonly kind: 'lease';
  readonly key: string;
  readonly token: string;
}

/** A lease primitive with the one thing only an operator does: end the lease whoever holds it. */
export interface AdminLeasePrimitive extends LeasePrimitive<LeaseFence> {
  /** Ends the lease whoever holds it; returns the holder it cleared, if any (`mig unlock --force`). */
  forceRelease(): Promise<LockHolder | null>;
}

/**
 * What a Kysely store checks of the lock a run holds: an advisory lock, a lease, or nothing to check
 * (undefined: an in-process mutex on an embedded database, or no lock at all).
 */
export type KyselyFence = AdvisoryFence | LeaseFence | undefined;
