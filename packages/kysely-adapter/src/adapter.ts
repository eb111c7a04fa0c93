import {
  type BackoffOptions,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_LOCK_STRATEGY,
  InvalidOptionError,
  LOCK_STRATEGIES,
  type LockAcquireOptions,
  type LockHolder,
  type LockStrategy,
  type Logger,
  type MigrationLock,
} from '@mig/core';
import { createLeaseLock, createLocalLock, createSessionLock, withProcessMutex } from '@mig/lock';
import { confirmEngine, detectEngine, type Engine } from './engine.js';
import { createAdvisoryPrimitive, readAdvisoryHolder } from './internal/advisory.js';
import type { AdminLeasePrimitive, KyselyFence } from './internal/fence.js';
import { createLeasePrimitive } from './internal/lease.js';
import { createMysqlLeasePrimitive, createMysqlSessionPrimitive, readMysqlLockHolder } from './internal/mysql-lock.js';
import { createSqliteLeasePrimitive } from './internal/sqlite-lock.js';
import type { StoreTables } from './internal/tables.js';
import type { MigrationDb } from './sources.js';
import { createKyselyStore, type KyselyStore, type KyselyStoreOptions } from './store.js';

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
  /** A migration lock for this store. Callers in one process share one acquisition at a time. */
  createLock(options?: KyselyLockOptions): MigrationLock<KyselyFence>;
  /** Who holds the lease lock now (null when free). */
  leaseHolder(): Promise<LockHolder | null>;
  /** Who holds the advisory lock now (null when free, and always on an embedded engine). */
  advisoryHolder(): Promise<LockHolder | null>;
  /** Ends the lease lock whoever holds it; returns the holder it cleared. For `mig unlock --force`. */
  forceReleaseLease(): Promise<LockHolder | null>;
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
  const store = createKyselyStore({ ...options, engine: detected.capabilities.engine });
  const { tables, target } = store;
  // The in-process mutex is per database. Without a described target, this Kysely instance is the best
  // identity there is: two instances on one database then meet at the database lock instead, which is
  // still correct, only less frugal.
  const scope =
    options.target?.server !== undefined && !detected.capabilities.embedded
      ? `${target.server}/${target.namespace}`
      : instanceScope(options.db);
  const engine = () => confirmEngine(options.db, detected);
  return {
    engine: detected.capabilities.engine,
    store,
    createLock(lockOptions = {}) {
      const strategy = lockOptions.strategy ?? DEFAULT_LOCK_STRATEGY;
      if (!(LOCK_STRATEGIES as readonly string[]).includes(strategy)) {
        throw new InvalidOptionError(
          'strategy',
          `Unknown lock strategy ${JSON.stringify(strategy)}: use ${LOCK_STRATEGIES.map((s) => `"${s}"`).join(' or ')}.`,
          { context: { strategy } },
        );
      }
      const build = (which: Engine) => buildLock(which, strategy, options.db, tables, scope, lockOptions, options);
      if (detected.certain) return build(detected.capabilities.engine);
      return deferredLock(strategy, tables, () => engine().then(build));
    },
    leaseHolder: async () => {
      try {
        return await leasePrimitive(await engine(), options.db, tables).holder();
      } catch (error) {
        if (store.isMissingTables(error)) return null; // no tables yet: nothing was ever locked
        throw error;
      }
    },
    advisoryHolder: async () => {
      const which = await engine();
      if (which === 'postgres') return readAdvisoryHolder(options.db, tables);
      if (which === 'mysql') return readMysqlLockHolder(options.db, tables);
      return null; // PGlite and SQLite have no session lock
    },
    forceReleaseLease: async () => {
      try {
        return await leasePrimitive(await engine(), options.db, tables).forceRelease();
      } catch (error) {
        if (store.isMissingTables(error)) return null;
        throw error;
      }
    },
  };
}

/** The lease lock row, in the engine's SQL. */
function leasePrimitive(
  engine: Engine,
  db: MigrationDb,
  tables: StoreTables,
  logger?: Logger | undefined,
): AdminLeasePrimitive {
  switch (engine) {
    case 'postgres':
    case 'pglite':
      return createLeasePrimitive({ db, tables });
    case 'mysql':
      return createMysqlLeasePrimitive({ db, tables });
    case 'sqlite':
      return createSqliteLeasePrimitive({ db, tables, logger });
  }
}

/**
 * A SQLite waiter polls the lease row often: nothing tells it the holder let go, and a poll is a read of a
 * local file (no server, no round trip), which costs microseconds and blocks no writer under WAL.
 */
const SQLITE_BACKOFF = Object.freeze({ initialDelayMs: 10, maxDelayMs: 50 });

function buildLock(
  engine: Engine,
  strategy: LockStrategy,
  db: MigrationDb,
  tables: StoreTables,
  scope: string,
  lockOptions: KyselyLockOptions,
  storeOptions: KyselyStoreOptions,
): MigrationLock<KyselyFence> {
  if (engine === 'pglite') return createLocalLock(`pglite ${scope} ${tables.qualified}`);
  // SQLite has no session lock: its lock is always the lease row (a killed holder's lease lapses).
  const lock: MigrationLock<KyselyFence> =
    strategy === 'lease' || engine === 'sqlite'
      ? createLeaseLock(leasePrimitive(engine, db, tables, lockOptions.logger ?? storeOptions.logger), {
          ttlMs: lockOptions.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
          renewEveryMs: lockOptions.renewEveryMs,
          owner: lockOptions.owner,
          backoff: lockOptions.backoff ?? (engine === 'sqlite' ? SQLITE_BACKOFF : undefined),
          logger: lockOptions.logger,
        })
      : createSessionLock(
          engine === 'mysql'
            ? createMysqlSessionPrimitive({ db, tables })
            : createAdvisoryPrimitive({
                db,
                tables,
                clientCheckIntervalMs: storeOptions.clientCheckIntervalMs ?? 1000,
              }),
          { backoff: lockOptions.backoff },
        );
  return withProcessMutex(lock, { scope });
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
