import { describeLockContract, describeStoreContract, type LockFixture } from '@mig/core/testing';
import { afterAll } from 'vitest';
import { createKyselyAdapter, createKyselyStore, type KyselyFence, type MigrationDb } from '../src/index.js';
import { ENGINES, type EngineDatabase, type TestEngine, type TestLock } from './support/engines.js';

// The contract suites of @mig/core/testing over every engine of the matrix: its store under each of its
// locks, and each lock between instances. Each case gets its own database, made and dropped by the fixture.

for (const engine of ENGINES) {
  describeStoreContract(`kysely store on ${engine.label}`, {
    capabilities: {
      nonTransactional: engine.capabilities.nonTransactional,
      previewsSql: engine.capabilities.previewsSql,
    },
    migration: engine.contract.migration,
    async open() {
      const database = await engine.open('contract_store');
      await engine.contract.prepare(database);
      const adapter = createKyselyAdapter({ db: database.db });
      return {
        store: adapter.store,
        // Both strategies: where there is no session lock, `advisory` is the engine's lease (or its mutex).
        locks: [adapter.createLock({ strategy: 'advisory' }), adapter.createLock({ strategy: 'lease' })],
        effects: () => engine.contract.effects(database),
        close: () => database.close(),
      };
    },
  });

  for (const lock of engine.locks) {
    describeLockContract(`${lock.title} on ${engine.label}`, {
      capabilities: lock.capabilities,
      open: () =>
        engine.capabilities.processes || engine.capabilities.isolates
          ? lockFixture(engine, lock)
          : inProcessLockFixture(engine, lock),
    });
  }
}

/**
 * A lock fixture on a database that processes (or isolates) share: each `createLock()` is another application instance,
 * with its own connections and adapter (so no in-process queue stands between them), on one fresh database.
 */
async function lockFixture(engine: TestEngine, lock: TestLock): Promise<LockFixture<KyselyFence, MigrationDb>> {
  const database = await engine.open(`contract_${lock.strategy}`);
  await engine.contract.prepare(database);
  const store = createKyselyStore({ db: database.db });
  const createLock = () => createKyselyAdapter({ db: database.connect() }).createLock({ strategy: lock.strategy });
  // A lease lives in the store's tables: they exist before anyone takes it, as the migrator ensures.
  if (createLock().livesInStore) await store.prepare();
  const { loseLock } = lock;
  return {
    createLock,
    fencing:
      loseLock === undefined
        ? undefined
        : {
            store,
            migration: engine.contract.migration,
            effects: () => engine.contract.effects(database),
            loseLock: (lease) => loseLock(database, lease),
          },
    close: () => database.close(),
  };
}

/**
 * Where one process owns the database, its lock is an in-process mutex that never queries it, so these cases
 * share one database per engine (starting one costs seconds). Each case still gets a lock of its own: the
 * mutex is scoped to the Kysely instance, and each case makes one; its "other instances" are other callers
 * in this process.
 */
const shared = new Map<TestEngine, Promise<EngineDatabase>>();
afterAll(async () => {
  await Promise.all([...shared.values()].map(async (database) => (await database).close()));
});

async function inProcessLockFixture(
  engine: TestEngine,
  lock: TestLock,
): Promise<LockFixture<KyselyFence, MigrationDb>> {
  if (!shared.has(engine)) shared.set(engine, engine.open(`contract_${lock.strategy}`));
  const database = await (shared.get(engine) as Promise<EngineDatabase>);
  const db = database.connect();
  const adapter = createKyselyAdapter({ db });
  return {
    createLock: () => adapter.createLock({ strategy: lock.strategy }),
    close: () => db.destroy(),
  };
}
