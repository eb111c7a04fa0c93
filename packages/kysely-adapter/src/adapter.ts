import { type LockHolder, type Logger, MigError, MigErrorCode, type MigrationLock } from '@mig/core';
import {
  type BackoffOptions,
  createLeaseLock,
  createLocalLock,
  createSessionLock,
  DEFAULT_LEASE_TTL_MS,
  withProcessMutex,
} from '@mig/lock';
import { createAdvisoryPrimitive, readAdvisoryHolder } from './internal/advisory.js';
import { createLeasePrimitive, forceReleaseLease } from './internal/lease.js';
import { isUndefinedTable } from './internal/pg-errors.js';
import { createKyselyStore, type KyselyStore, type KyselyStoreOptions } from './store.js';

export const LOCK_STRATEGIES = ['advisory', 'lease'] as const;
export type LockStrategy = (typeof LOCK_STRATEGIES)[number];

export interface KyselyLockOptions {
  /**
   * `advisory` (default): a PostgreSQL session advisory lock on one dedicated connection, which also runs
   * the migrations; released by the server the moment its holder dies. Needs session pooling or a direct
   * connection. `lease`: a lock row with an expiry renewed by a heartbeat; works through PgBouncer in
   * transaction mode; a dead holder's lease is taken over once it expires. PGlite always uses an
   * in-process mutex.
   */
  readonly strategy?: LockStrategy | undefined;
  /** Lease lifetime without renewal. Default 30 s. */
  readonly leaseTtlMs?: number | undefined;
  /** Lease renewal interval. Default a third of the lifetime. */
  readonly renewEveryMs?: number | undefined;
  /** Lease owner prefix written in the lock row. Default `host:pid`. */
  readonly owner?: string | undefined;
  readonly backoff?: BackoffOptions | undefined;
  readonly logger?: Logger | undefined;
}

export interface KyselyAdapter {
  readonly engine: 'postgres' | 'pglite';
  readonly store: KyselyStore;
  /** A migration lock for this store. Callers in one process share one acquisition at a time. */
  createLock(options?: KyselyLockOptions): MigrationLock;
  /** Who holds the lease lock now (null when free). */
  leaseHolder(): Promise<LockHolder | null>;
  /** Who holds the advisory lock now (null when free); PostgreSQL only. */
  advisoryHolder(): Promise<LockHolder | null>;
  /** Ends the lease lock whoever holds it; returns the holder it cleared. For `mig unlock --force`. */
  forceReleaseLease(): Promise<LockHolder | null>;
}

/**
 * mig on one Kysely instance: the store and its locks share the instance's connections.
 *
 * @example
 * const adapter = createKyselyAdapter({ db, target: describeConnection(url) });
 * const migrator = createMigrator({ source, store: adapter.store, lock: adapter.createLock({ strategy: 'lease' }) });
 */
export function createKyselyAdapter(options: KyselyStoreOptions): KyselyAdapter {
  const engine = options.engine ?? 'postgres';
  const store = createKyselyStore(options);
  const { tables, target } = store;
  // The in-process mutex is per database. Without a described target, this Kysely instance is the best
  // identity there is: two instances on one database then meet at the database lock instead, which is
  // still correct, only less frugal.
  const scope =
    options.target?.server !== undefined && engine === 'postgres'
      ? `${target.server}/${target.namespace}`
      : instanceScope(options.db);
  return {
    engine,
    store,
    createLock(lockOptions = {}) {
      const strategy = lockOptions.strategy ?? 'advisory';
      if (!(LOCK_STRATEGIES as readonly string[]).includes(strategy)) {
        throw new MigError(
          MigErrorCode.InvalidOption,
          `Unknown lock strategy ${JSON.stringify(strategy)}: use "advisory" or "lease".`,
          { context: { strategy } },
        );
      }
      if (engine === 'pglite')
        return { ...createLocalLock(`pglite ${scope} ${tables.qualified}`), independentOfStore: true };
      const lock =
        strategy === 'lease'
          ? createLeaseLock(createLeasePrimitive({ db: options.db, tables }), {
              ttlMs: lockOptions.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
              renewEveryMs: lockOptions.renewEveryMs,
              owner: lockOptions.owner,
              backoff: lockOptions.backoff,
              logger: lockOptions.logger,
            })
          : createSessionLock(
              createAdvisoryPrimitive({
                db: options.db,
                tables,
                clientCheckIntervalMs: options.clientCheckIntervalMs ?? 1000,
              }),
              { backoff: lockOptions.backoff },
            );
      const serialized = withProcessMutex(lock, { scope });
      return strategy === 'lease' ? serialized : { ...serialized, independentOfStore: true };
    },
    leaseHolder: async () => {
      try {
        return await createLeasePrimitive({ db: options.db, tables }).holder();
      } catch (error) {
        if (isUndefinedTable(error)) return null; // no tables yet: nothing was ever locked
        throw error;
      }
    },
    advisoryHolder: () => (engine === 'pglite' ? Promise.resolve(null) : readAdvisoryHolder(options.db, tables)),
    forceReleaseLease: () => forceReleaseLease(options.db, tables),
  };
}

const instanceIds = new WeakMap<object, string>();
let nextInstance = 0;

function instanceScope(db: object): string {
  let id = instanceIds.get(db);
  if (id === undefined) {
    nextInstance += 1;
    id = `instance-${nextInstance}`;
    instanceIds.set(db, id);
  }
  return id;
}
