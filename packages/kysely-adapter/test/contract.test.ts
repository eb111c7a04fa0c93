import type { Migration } from '@mig/core';
import { computeChecksum, type LockLease } from '@mig/core/adapter';
import { describeLockContract, describeStoreContract, type MigrationSpec } from '@mig/core/testing';
import { Kysely, sql } from 'kysely';
import { afterAll } from 'vitest';
import { createTestPGlite, type TestPGlite } from '../../../test/support/pglite.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { PGliteDialect } from '../src/engines/pglite/index.js';
import { createPgDialect } from '../src/engines/postgres/index.js';
import { createKyselyAdapter, createKyselyStore, type KyselyFence, type MigrationDb } from '../src/index.js';

// The contract suites of @mig/core/testing over every store and lock this adapter has. Each case gets its
// own database (PostgreSQL) or data directory (PGlite), made and dropped by the fixture.

/** A contract migration: `up` creates a table named after it, `down` drops it (DDL is transactional here). */
function contractMigration({ name, transactional, fails }: MigrationSpec): Migration<MigrationDb> {
  return {
    name,
    checksum: computeChecksum(`${name}\ntransactional=${transactional}\nfails=${fails}`),
    origin: 'contract',
    load: async () => ({
      transactional,
      async up(db) {
        await sql`create table ${sql.id(name)} (id int)`.execute(db);
        if (fails) throw new Error(`${name} fails on purpose`);
      },
      async down(db) {
        await sql`drop table ${sql.id(name)}`.execute(db);
      },
    }),
  };
}

/** The contract migrations whose table exists. */
async function contractTables(db: MigrationDb): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_name ~ '^c[0-9]{3}_'`.execute(db);
  return rows.map((r) => r.name);
}

const STORE_CAPABILITIES = { nonTransactional: true, previewsSql: true } as const;

describeStoreContract('kysely store on PostgreSQL', {
  capabilities: STORE_CAPABILITIES,
  migration: contractMigration,
  async open() {
    const database = await createTestDatabase('contract_store');
    const adapter = createKyselyAdapter({ db: database.db });
    return {
      store: adapter.store,
      locks: [adapter.createLock({ strategy: 'advisory' }), adapter.createLock({ strategy: 'lease' })],
      effects: () => contractTables(database.db),
      close: () => database.drop(),
    };
  },
});

describeStoreContract('kysely store on PGlite', {
  capabilities: STORE_CAPABILITIES,
  migration: contractMigration,
  async open() {
    const pglite = await createTestPGlite();
    const adapter = createKyselyAdapter({ db: pglite.db });
    return {
      store: adapter.store,
      locks: [adapter.createLock()],
      effects: () => contractTables(pglite.db),
      close: () => pglite.close(),
    };
  },
});

/**
 * A lock fixture on PostgreSQL: each `createLock()` is another application instance, with its own pool and
 * adapter (so no in-process queue stands between them), on one fresh database.
 */
async function postgresLockFixture(
  strategy: 'advisory' | 'lease',
  loseLock: (database: TestDatabase, lease: LockLease<KyselyFence>) => Promise<void>,
) {
  const database = await createTestDatabase(`contract_${strategy}`);
  const store = createKyselyStore({ db: database.db });
  // A lease lives in the store's tables: they exist before anyone takes it, as the migrator ensures.
  if (strategy === 'lease') await store.prepare();
  const instances: MigrationDb[] = [];
  return {
    createLock() {
      const db = new Kysely<any>({ dialect: createPgDialect({ url: database.url, max: 3 }) });
      instances.push(db);
      return createKyselyAdapter({ db }).createLock({ strategy });
    },
    fencing: {
      store,
      migration: contractMigration,
      effects: () => contractTables(database.db),
      loseLock: (lease: LockLease<KyselyFence>) => loseLock(database, lease),
    },
    async close() {
      await Promise.all(instances.map((db) => db.destroy().catch(() => {})));
      await database.drop();
    },
  };
}

describeLockContract('advisory lock on PostgreSQL', {
  capabilities: { namesHolder: true, reportsWaits: true, losesLock: true },
  // What a transaction pooler does to a session lock: the session lives on, the lock is gone. (Ending the
  // session instead fails the bound store's next statement with a connection error, not LOCK_LOST.)
  open: () =>
    postgresLockFixture('advisory', async (_database, lease) => {
      if (lease.fence?.kind !== 'advisory') throw new Error('an advisory lock hands out advisory fences');
      await sql`select pg_advisory_unlock_all()`.execute(lease.fence.db);
    }),
});

describeLockContract('lease lock on PostgreSQL', {
  capabilities: { namesHolder: true, reportsWaits: true, losesLock: true },
  // The lease runs out (its holder stalled past the TTL): anyone may take it over from then on.
  open: () =>
    postgresLockFixture('lease', async (database) => {
      await database.query('update mig_migrations_lock set expires_at = now()');
    }),
});

// The mutex never queries the database, so its cases share one PGlite (starting one costs seconds). Each
// case still gets a lock of its own: the mutex is scoped to the Kysely instance, and each case makes one.
let sharedPGlite: Promise<TestPGlite> | undefined;
afterAll(async () => {
  if (sharedPGlite) await (await sharedPGlite).close();
});

describeLockContract('in-process mutex on PGlite', {
  capabilities: { namesHolder: true, reportsWaits: false, losesLock: false },
  async open() {
    sharedPGlite ??= createTestPGlite();
    const { pglite } = await sharedPGlite;
    const db = new Kysely<any>({ dialect: new PGliteDialect({ pglite, closeOnDestroy: false }) });
    // One process owns a PGlite database: its "other instances" are other callers in this process.
    const adapter = createKyselyAdapter({ db });
    return {
      createLock: () => adapter.createLock(),
      close: () => db.destroy(),
    };
  },
});
