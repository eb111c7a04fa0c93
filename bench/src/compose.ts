import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createStatusCache } from '@mig/cache';
import {
  createDatabaseService,
  createMigrator,
  type DatabaseService,
  DEFAULT_STATUS_TTL_MS,
  type LockStrategy,
  type MigrationLock,
  type MigrationSource,
  type MigrationStatus,
  type Migrator,
} from '@mig/core';
import { createFolderSource, createKyselyAdapter, describeConnection } from '@mig/kysely-adapter';
import { FileMigrationProvider, type Kysely, Migrator as KyselyMigrator, sql } from 'kysely';

// How the bench composes each tool: the way the packages' README and tests show it, nothing tuned.

export interface MigOptions {
  readonly url: string;
  readonly strategy?: LockStrategy | undefined;
  /** Defaults to a folder source on `dir`. */
  readonly source?: MigrationSource<Kysely<any>> | undefined;
  /** Filled with when the lock was asked for, granted and given back (wall clock, ms). */
  readonly lockTimings?: LockTimings | undefined;
  /** `all`: every pending migration in one transaction (`transaction: 'all'`). Default each in its own. */
  readonly transaction?: 'each' | 'all' | undefined;
}

export interface LockTimings {
  requestedAt?: number;
  acquiredAt?: number;
  releasedAt?: number;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The lock, observed through its port: records when it was requested, granted and released, so a race can
 * be taken apart (time to the lock, time holding it, time from its release to the waiters being ready).
 */
export function observeLock<F>(lock: MigrationLock<F>, timings: LockTimings): MigrationLock<F> {
  return {
    strategy: lock.strategy,
    key: lock.key,
    livesInStore: lock.livesInStore,
    async acquire(options) {
      timings.requestedAt ??= wallNow();
      const lease = await lock.acquire(options);
      timings.acquiredAt = wallNow();
      return {
        fence: lease.fence,
        waitedMs: lease.waitedMs,
        lost: lease.lost,
        async release(reached) {
          await lease.release(reached);
          timings.releasedAt = wallNow();
        },
      };
    },
  };
}

/** mig's migrator on a Kysely instance: folder source, Kysely store, advisory (default) or lease lock. */
export function migMigrator(db: Kysely<any>, dir: string, options: MigOptions): Migrator<Kysely<any>> {
  const adapter = createKyselyAdapter({ db, target: describeConnection(options.url) });
  const lock = adapter.createLock({ strategy: options.strategy ?? 'advisory' });
  return createMigrator({
    source: options.source ?? createFolderSource(dir),
    store: adapter.store,
    lock: options.lockTimings ? observeLock(lock, options.lockTimings) : lock,
    lockTimeoutMs: 120_000,
    transaction: options.transaction,
  });
}

export interface ServiceOptions {
  /** Builds the migrator when the service first connects. */
  readonly migrator: (db: Kysely<any>) => Migrator<unknown>;
  /** The service's `connect`: by default one `select 1`, as the core README's example does. */
  readonly connect?: ((db: Kysely<any>) => Promise<Kysely<any>>) | undefined;
  /** Default true: a @mig/cache status cache, as an application would use. */
  readonly cache?: boolean | undefined;
  readonly autoMigrate?: boolean | undefined;
  readonly disconnect?: boolean | undefined;
}

/** mig's database service on an existing Kysely instance, with a status cache and automatic migration. */
export function migService(db: Kysely<any>, options: ServiceOptions): DatabaseService<Kysely<any>> {
  const connect =
    options.connect ??
    (async (conn: Kysely<any>) => {
      await sql`select 1`.execute(conn);
      return conn;
    });
  return createDatabaseService<Kysely<any>>({
    connect: () => connect(db),
    disconnect: options.disconnect === false ? undefined : (conn) => conn.destroy(),
    migrator: (conn) => options.migrator(conn),
    cache: options.cache === false ? undefined : createStatusCache<MigrationStatus>({ ttlMs: DEFAULT_STATUS_TTL_MS }),
    autoMigrate: options.autoMigrate ?? true,
    lockTimeoutMs: 120_000,
  });
}

/** Kysely's own Migrator, reading the same folder through its FileMigrationProvider. */
export function kyselyMigrator(db: Kysely<any>, dir: string): KyselyMigrator {
  return new KyselyMigrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder: dir }) });
}

/** Runs Kysely's `migrateToLatest` and turns its result set's error into a thrown one. */
export async function kyselyMigrateToLatest(migrator: KyselyMigrator): Promise<number> {
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return results?.length ?? 0;
}

/** `migrator.up()`, throwing its error: the bench must never time a run that failed. */
export async function migUp(migrator: Migrator<unknown>): Promise<number> {
  const result = await migrator.up();
  if (result.error) throw result.error;
  return result.results.filter((r) => r.status === 'applied').length;
}
