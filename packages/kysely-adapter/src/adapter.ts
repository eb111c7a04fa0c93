import {
  DEFAULT_LOCK_STRATEGY,
  InvalidOptionError,
  LOCK_STRATEGIES,
  type LockStrategy,
  type Logger,
  type MigrationLock,
} from '@mig/core';
import { type BackoffOptions, DEFAULT_LEASE_TTL_MS, type LockAcquireOptions, type LockHolder } from '@mig/core/adapter';
import { createLeaseLock, createLocalLock, createSessionLock, withProcessMutex } from '@mig/lock';
import { confirmEngine, detectEngine } from './detect.js';
import type { EngineDriver, LockPrimitiveOptions } from './engines/driver.js';
import { driverOf, type Engine } from './engines/registry.js';
import { leaseExcludingSession, sessionExcludingLease } from './exclusive.js';
import type { AdminLeasePrimitive, KyselyFence } from './fence.js';
import type { SqlSplitter } from './sql/statement.js';
import { createKyselyStore, type KyselyStore, type KyselyStoreOptions } from './store.js';
import type { StoreTables } from './tables.js';

export interface KyselyLockOptions {
  /**
   * `advisory` (default): a PostgreSQL session advisory lock on one dedicated connection, which also runs
   * the migrations; released by the server the moment its holder dies. Needs session pooling or a direct
   * connection. `lease`: a lock row with an expiry renewed by a heartbeat; works through PgBouncer in
   * transaction mode; a dead holder's lease is taken over once it expires. An embedded engine (PGlite)
   * always uses an in-process mutex.
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
  /**
   * The engine read from the Kysely instance. A plain `PostgresDialect` is taken as PostgreSQL; a lock
   * confirms it with one query before it is first taken (a PGlite behind another package's dialect).
   */
  readonly engine: Engine;
  readonly store: KyselyStore;
  /**
   * How this engine splits a SQL script into statements: give it to `createFolderSource` (`splitter`) so SQL
   * files are read as the engine reads them.
   */
  readonly splitter: SqlSplitter;
  /** A migration lock for this store. Callers in one process share one acquisition at a time. */
  createLock(options?: KyselyLockOptions): MigrationLock<KyselyFence>;
  /** Who holds the lease lock now (null when free). */
  leaseHolder(): Promise<LockHolder | null>;
  /** Who holds the advisory lock now (null when free, and always on an engine without one). */
  advisoryHolder(): Promise<LockHolder | null>;
  /** Ends the lease lock whoever holds it; returns the holder it cleared. For `mig unlock --force`. */
  forceReleaseLease(): Promise<LockHolder | null>;
  /** What the advisory lock is on this engine (or why there is none), for people. */
  advisoryNote(): Promise<string>;
  /** The statement an operator runs to end an advisory lock's holder, where the engine has one. */
  stopHolderStatement(holder: LockHolder): Promise<string | undefined>;
}

/**
 * mig on one Kysely instance: the store and its locks share the instance's connections. The engine and
 * what it can do are read from the instance; nobody has to say which database it is.
 *
 * @example
 * const adapter = createKyselyAdapter({ db, target: describeConnection(url) });
 * const migrator = createMigrator({ source, store: adapter.store, lock: adapter.createLock({ strategy: 'lease' }) });
 */
export function createKyselyAdapter(options: KyselyStoreOptions): KyselyAdapter {
  const detected = detectEngine(options.db, options.engine);
  const store = createKyselyStore({ ...options, engine: detected.engine });
  const { tables, target } = store;
  // The in-process mutex is per database. Without a described target, this Kysely instance is the best
  // identity there is: two instances on one database then meet at the database lock instead, which is
  // still correct, only less frugal.
  const database =
    options.target?.server !== undefined && !detected.capabilities.embedded
      ? `${target.server}/${target.namespace}`
      : instanceScope(options.db);
  // Tenants of one database lock apart, as their database locks are apart (one key per schema.table).
  const scope = options.tenant === true ? `${database}/${tables.qualified}` : database;
  const driver = async () => driverOf(await confirmEngine(options.db, detected));
  const primitives = (logger?: Logger): LockPrimitiveOptions => ({
    db: options.db,
    tables,
    logger,
    clientCheckIntervalMs: options.clientCheckIntervalMs ?? 1000,
  });
  const lease = async (): Promise<AdminLeasePrimitive> => {
    const which = await driver();
    return which.locks.lease(primitives());
  };
  return {
    engine: detected.engine,
    store,
    splitter: detected.driver.split,
    createLock(lockOptions = {}) {
      const strategy = lockOptions.strategy ?? DEFAULT_LOCK_STRATEGY;
      if (!(LOCK_STRATEGIES as readonly string[]).includes(strategy)) {
        throw new InvalidOptionError(
          'strategy',
          `Unknown lock strategy ${JSON.stringify(strategy)}: use ${LOCK_STRATEGIES.map((s) => `"${s}"`).join(' or ')}.`,
          { context: { strategy } },
        );
      }
      const build = (which: EngineDriver) =>
        buildLock(
          which,
          strategy,
          tables,
          scope,
          lockOptions,
          primitives(lockOptions.logger ?? options.logger),
          (error) => store.isMissingTables(error),
        );
      if (detected.certain) return build(detected.driver);
      return deferredLock(strategy, tables, () => driver().then(build));
    },
    leaseHolder: () => orNoTables(store, async () => (await lease()).holder()),
    advisoryHolder: async () => {
      const which = await driver();
      return which.locks.sessionHolder?.(options.db, tables) ?? null;
    },
    forceReleaseLease: () => orNoTables(store, async () => (await lease()).forceRelease()),
    advisoryNote: async () => (await driver()).locks.sessionNote,
    stopHolderStatement: async (holder) => (await driver()).locks.stopHolder?.(holder),
  };
}

/** A lease read or write that finds no tables: nothing was ever locked here. */
async function orNoTables(store: KyselyStore, work: () => Promise<LockHolder | null>): Promise<LockHolder | null> {
  try {
    return await work();
  } catch (error) {
    if (store.isMissingTables(error)) return null;
    throw error;
  }
}

/**
 * The lock for a strategy on an engine: an embedded engine's is an in-process mutex; an engine without
 * session locks always uses its lease row (a killed holder's lease lapses); otherwise the strategy decides.
 * Callers in one process queue on an in-process mutex first.
 */
function buildLock(
  driver: EngineDriver,
  strategy: LockStrategy,
  tables: StoreTables,
  scope: string,
  lockOptions: KyselyLockOptions,
  primitive: LockPrimitiveOptions,
  isMissingTables: (error: unknown) => boolean,
): MigrationLock<KyselyFence> {
  const { capabilities, locks } = driver;
  if (capabilities.embedded) return createLocalLock(`${capabilities.engine} ${scope} ${tables.qualified}`);
  const lease = locks.lease(primitive);
  let lock: MigrationLock<KyselyFence>;
  if (locks.session === undefined) {
    lock = createLeaseLock(lease, leaseOptions(lockOptions, locks.leaseBackoff));
  } else if (strategy === 'lease') {
    const holder = locks.sessionHolder;
    const excluding = holder ? leaseExcludingSession(lease, () => holder(primitive.db, tables)) : lease;
    lock = createLeaseLock(excluding, leaseOptions(lockOptions, locks.leaseBackoff));
  } else {
    const session = sessionExcludingLease(
      locks.session(primitive),
      (db) => locks.lease({ ...primitive, db }),
      isMissingTables,
    );
    lock = createSessionLock(session, { backoff: lockOptions.backoff });
  }
  return withProcessMutex(lock, { scope });
}

function leaseOptions(lockOptions: KyselyLockOptions, backoff: BackoffOptions | undefined) {
  return {
    ttlMs: lockOptions.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
    renewEveryMs: lockOptions.renewEveryMs,
    owner: lockOptions.owner,
    backoff: lockOptions.backoff ?? backoff,
    logger: lockOptions.logger,
  };
}

/**
 * A lock whose engine is confirmed (one query, once) before it is first taken. Its key and whether it
 * lives in the store's tables follow from the strategy alone, so they are known before then.
 */
function deferredLock(
  strategy: LockStrategy,
  tables: StoreTables,
  resolve: () => Promise<MigrationLock<KyselyFence>>,
): MigrationLock<KyselyFence> {
  let inner: Promise<MigrationLock<KyselyFence>> | undefined;
  return {
    strategy,
    key: `${strategy} lock on ${tables.qualified}`,
    livesInStore: strategy === 'lease',
    async acquire(options: LockAcquireOptions) {
      inner ??= resolve();
      inner.catch(() => {
        inner = undefined;
      });
      return (await inner).acquire(options);
    },
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
