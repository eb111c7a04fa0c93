import type { Logger } from '@mig/core';
import type { LeaseGrant, LockHolder, TryLockResult } from '@mig/core/adapter';
import type { MigrationDb } from './db.js';
import type { AdminLeasePrimitive, LeaseFence } from './fence.js';
import type { StoreTables } from './tables.js';

/**
 * What every engine's lease lock row has in common: one row per store, keyed by the store's qualified table,
 * in the store's `_lock` table (so the tables are created before the lock is taken), with an owner, a token
 * that grows with every grant (fencing survives a release: the row stays) and an expiry judged by the
 * database's clock. Each engine writes the SQL of the five operations.
 */
export abstract class LeaseRow implements AdminLeasePrimitive {
  readonly strategy = 'lease';
  readonly key: string;
  readonly livesInStore = true;
  protected readonly db: MigrationDb;
  protected readonly tables: StoreTables;
  protected readonly logger: Logger;

  constructor(db: MigrationDb, tables: StoreTables, logger: Logger = stderrLogger) {
    this.db = db;
    this.tables = tables;
    this.logger = logger;
    this.key = `lease lock on ${tables.qualified}`;
  }

  /** Says that the lease of a holder that died on this host was taken over, and why it could be. */
  protected toldTakeover(previous: { owner: string; expiresAt?: string | Date | null }, pid: number, token: string) {
    const until = previous.expiresAt
      ? ` (its lease would have lasted until ${new Date(previous.expiresAt).toISOString()})`
      : '';
    this.logger.warn(
      { lock: this.key, previousOwner: previous.owner, pid, token },
      `took over the migration lease of ${previous.owner}: process ${pid} on this host no longer exists${until}`,
    );
  }

  /** The lock row's key: the store's qualified table. */
  protected get row(): string {
    return this.tables.qualified;
  }

  abstract tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<LeaseFence>>>;
  abstract renew(owner: string, token: string, ttlMs: number): Promise<Date | null>;
  abstract release(owner: string, token: string): Promise<void>;
  abstract holder(): Promise<LockHolder | null>;
  abstract forceRelease(): Promise<LockHolder | null>;
}

/** Until a logger is given: the takeover of a dead holder's lease is worth a line on stderr. */
const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(fields, message) {
    process.stderr.write(`mig: ${message ?? ''} ${JSON.stringify(fields)}\n`);
  },
  error(fields, message) {
    process.stderr.write(`mig: ${message ?? ''} ${JSON.stringify(fields)}\n`);
  },
};
