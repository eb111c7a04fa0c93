import type { Migration } from '@mig/core';
import { computeChecksum, type LockLease } from '@mig/core/adapter';
import { describeLockContract, describeStoreContract, type MigrationSpec } from '@mig/core/testing';
import { Kysely, sql } from 'kysely';
import { createMysqlDialect } from '../src/engines/mysql/index.js';
import { createKyselyAdapter, createKyselyStore, type KyselyFence, type MigrationDb } from '../src/index.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from './support/mysql.js';

// The contract suites of @mig/core/testing on MariaDB (MySQL), each case on its own database.

/**
 * A contract migration on an engine whose DDL is not transactional: `up` writes a marker row named after it
 * into the `effects` table the fixture makes, `down` deletes it. Data changes are transactional, so a
 * failing migration's marker is rolled back with it.
 */
function contractMigration({ name, transactional, fails }: MigrationSpec): Migration<MigrationDb> {
  return {
    name,
    checksum: computeChecksum(`${name}\ntransactional=${transactional}\nfails=${fails}`),
    origin: 'contract',
    load: async () => ({
      transactional,
      async up(db) {
        await sql`insert into effects (name) values (${name})`.execute(db);
        if (fails) throw new Error(`${name} fails on purpose`);
      },
      async down(db) {
        await sql`delete from effects where name = ${name}`.execute(db);
      },
    }),
  };
}

async function contractDatabase(label: string): Promise<TestMysqlDatabase> {
  const database = await createTestMysqlDatabase(label);
  await database.query('create table effects (name varchar(64) not null primary key) engine=InnoDB');
  return database;
}

async function contractEffects(database: TestMysqlDatabase): Promise<string[]> {
  const rows = await database.query<{ name: string }>('select name from effects');
  return rows.map((r) => r.name);
}

describeStoreContract('kysely store on MariaDB', {
  capabilities: { nonTransactional: true, previewsSql: true },
  migration: contractMigration,
  async open() {
    const database = await contractDatabase('contract_store');
    const adapter = createKyselyAdapter({ db: database.db });
    return {
      store: adapter.store,
      locks: [adapter.createLock({ strategy: 'advisory' }), adapter.createLock({ strategy: 'lease' })],
      effects: () => contractEffects(database),
      close: () => database.drop(),
    };
  },
});

/**
 * A lock fixture on MariaDB: each `createLock()` is another application instance, with its own pool and
 * adapter, on one fresh database.
 */
async function mysqlLockFixture(
  strategy: 'advisory' | 'lease',
  loseLock: (database: TestMysqlDatabase, lease: LockLease<KyselyFence>) => Promise<void>,
) {
  const database = await contractDatabase(`contract_${strategy}`);
  const store = createKyselyStore({ db: database.db });
  if (strategy === 'lease') await store.prepare();
  const instances: MigrationDb[] = [];
  return {
    createLock() {
      const db = new Kysely<any>({ dialect: createMysqlDialect({ url: database.url, maxConnections: 3 }) });
      instances.push(db);
      return createKyselyAdapter({ db }).createLock({ strategy });
    },
    fencing: {
      store,
      migration: contractMigration,
      effects: () => contractEffects(database),
      loseLock: (lease: LockLease<KyselyFence>) => loseLock(database, lease),
    },
    async close() {
      await Promise.all(instances.map((db) => db.destroy().catch(() => {})));
      await database.drop();
    },
  };
}

describeLockContract('GET_LOCK (advisory) on MariaDB', {
  capabilities: { namesHolder: true, reportsWaits: true, losesLock: true },
  // The session lives on and its lock is gone, as after a RELEASE_ALL_LOCKS behind the holder's back.
  open: () =>
    mysqlLockFixture('advisory', async (_database, lease) => {
      if (lease.fence?.kind !== 'advisory') throw new Error('an advisory lock hands out advisory fences');
      await sql`select release_all_locks()`.execute(lease.fence.db);
    }),
});

describeLockContract('lease lock on MariaDB', {
  capabilities: { namesHolder: true, reportsWaits: true, losesLock: true },
  open: () =>
    mysqlLockFixture('lease', async (database) => {
      await database.query('update mig_migrations_lock set expires_at = utc_timestamp(6)');
    }),
});
