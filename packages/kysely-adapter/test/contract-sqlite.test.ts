import type { Migration } from '@mig/core';
import { computeChecksum } from '@mig/core/adapter';
import { describeLockContract, describeStoreContract, type MigrationSpec } from '@mig/core/testing';
import { sql } from 'kysely';
import { createKyselyAdapter, createKyselyStore, type MigrationDb } from '../src/index.js';
import { createTestSqlite } from './support/sqlite.js';

// The contract suites of @mig/core/testing on a SQLite file: the store under the lease lock (the only lock
// SQLite has), and the lease between instances, each with its own connection to one file.

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

describeStoreContract('kysely store on SQLite', {
  capabilities: { nonTransactional: true, previewsSql: true },
  migration: contractMigration,
  async open() {
    const file = await createTestSqlite();
    const adapter = createKyselyAdapter({ db: file.db });
    return {
      store: adapter.store,
      locks: [adapter.createLock(), adapter.createLock({ strategy: 'advisory' })],
      effects: () => file.tables('c[0-9][0-9][0-9]_*'),
      close: () => file.close(),
    };
  },
});

describeLockContract('lease lock on SQLite', {
  capabilities: { namesHolder: true, reportsWaits: true, losesLock: true },
  async open() {
    const file = await createTestSqlite();
    const store = createKyselyStore({ db: file.db });
    // The lease lives in the store's tables: they exist before anyone takes it, as the migrator ensures.
    await store.prepare();
    return {
      // Each lock is another instance: its own connection to the file, its own adapter.
      createLock: () => createKyselyAdapter({ db: file.open() }).createLock({ leaseTtlMs: 5_000 }),
      fencing: {
        store,
        migration: contractMigration,
        effects: () => file.tables('c[0-9][0-9][0-9]_*'),
        // The lease runs out (its holder stalled past the TTL): anyone may take it over from then on.
        loseLock: async () => {
          await sql`update mig_migrations_lock set expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 seconds')`.execute(
            file.db,
          );
        },
      },
      close: () => file.close(),
    };
  },
});
