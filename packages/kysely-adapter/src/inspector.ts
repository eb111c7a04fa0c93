import type { Migration } from '@mig/core';
import type { ForeignHistorySummary, Leftover, StoreInspector } from '@mig/core/adapter';
import type { MigrationDb } from './db.js';
import type { EngineDriver } from './engines/driver.js';
import { detectForeignHistoriesWith } from './foreign/detect.js';
import { previewQueries } from './preview.js';
import type { StoreEngine } from './store-engine.js';

/**
 * What the Kysely store can tell of its database beyond its records: the SQL a migration would send (a dry
 * run), the invalid indexes failed runs left (PostgreSQL), and other tools' histories. It never writes. The
 * store hands it out as `store.inspector`, on the same Kysely instance as the store (the lock's session, for
 * a store bound to an advisory lock).
 *
 * @example
 * const { inspector } = createKyselyStore({ db });
 * const found = await inspector.foreignHistories(); // [{ tool: 'kysely', table: 'public.kysely_migration', applied: 12 }]
 */
export class KyselyStoreInspector implements StoreInspector<MigrationDb> {
  readonly #db: MigrationDb;
  readonly #engine: StoreEngine;
  readonly #driver: EngineDriver;

  /** Use `store.inspector` of {@link createKyselyStore}. */
  constructor(db: MigrationDb, engine: StoreEngine, driver: EngineDriver) {
    this.#db = db;
    this.#engine = engine;
    this.#driver = driver;
  }

  /**
   * A SQL migration's text (`up`), or the queries a code migration compiles when it runs against a Kysely
   * that executes nothing; undefined for a `down` the migration does not have.
   */
  async preview(migration: Migration<MigrationDb>, direction: 'up' | 'down'): Promise<readonly string[] | undefined> {
    const module = await migration.load();
    const run = direction === 'up' ? module.up : module.down;
    if (!run) return undefined;
    if (direction === 'up' && migration.sql !== undefined) return [migration.sql];
    return previewQueries(run, this.#db);
  }

  /** On PostgreSQL, the invalid indexes these migrations' `CREATE INDEX CONCURRENTLY` left; empty elsewhere. */
  leftovers(migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]> {
    return this.#engine.leftovers(this.#db, migrations);
  }

  /** Non-empty histories of Kysely's Migrator, knex, node-pg-migrate and Drizzle, in one or two queries. */
  foreignHistories(): Promise<readonly ForeignHistorySummary[]> {
    return detectForeignHistoriesWith(this.#db, this.#driver);
  }
}
