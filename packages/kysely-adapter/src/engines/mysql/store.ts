import type { Migration } from '@mig/core';
import {
  type ApplyOptions,
  type Leftover,
  nextDigest,
  type RecordOptions,
  type RecordRewrite,
  type StoreHead,
} from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { KyselyFence } from '../../fence.js';
import type { EngineSettings, RecordRow, Step, StoreEngine } from '../../store-engine.js';
import { StoreReads } from '../../store-reads.js';
import type { StoreTables } from '../../tables.js';
import { isMysqlConcurrentCreate, isMysqlUndefinedTable } from './errors.js';
import { checkMysqlFence } from './fence.js';
import { progressLeftover, readProgress } from './progress.js';
import { runMysqlStep } from './run.js';
import { createMysqlTables, lockMysqlHead, readMysqlRecords, writeMysqlHead } from './tables.js';

/**
 * mig's store SQL on MySQL and MariaDB (InnoDB). The same tables, head compare-and-swap and digests as on
 * PostgreSQL; what differs is DDL, which MySQL commits statement by statement: see `runMysqlStep` for how a
 * migration is run and recorded, atomically where it can be and honestly where it cannot.
 */
export function createMysqlStoreEngine(tables: StoreTables, settings: EngineSettings): StoreEngine {
  return new MysqlStoreEngine(tables, settings);
}

class MysqlStoreEngine extends StoreReads implements StoreEngine {
  /** Why several migrations cannot share one transaction here (`transaction: 'all'` is refused). */
  readonly singleTransactionRefused =
    'MySQL and MariaDB commit each DDL statement implicitly (CREATE, ALTER, DROP end the transaction), so a failure could not roll back the migrations before it';

  readonly tables: StoreTables;
  readonly #settings: EngineSettings;

  constructor(tables: StoreTables, settings: EngineSettings) {
    super();
    this.tables = tables;
    this.#settings = settings;
  }

  // MySQL's tables were first written at version 2: there is no older layout to bring up to date.
  createTables(db: MigrationDb, _fromVersion: number | null): Promise<void> {
    return createMysqlTables(db, this.tables);
  }

  isRetryableCreate(error: unknown): boolean {
    return isMysqlConcurrentCreate(error);
  }

  isUndefinedTable(error: unknown): boolean {
    return isMysqlUndefinedTable(error);
  }

  override async readRecords(db: MigrationDb): Promise<readonly RecordRow[]> {
    try {
      return await readMysqlRecords(db, this.tables);
    } catch (error) {
      if (isMysqlUndefinedTable(error)) return [];
      throw error;
    }
  }

  changeInTransaction(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    return runMysqlStep(db, { tables: this.tables, settings: this.#settings }, step, run);
  }

  changeOutside(db: MigrationDb, step: Step, run: (db: MigrationDb) => Promise<void>): Promise<void> {
    // `-- mig:no-transaction` (or transactional = false) changes nothing here: MySQL decides what commits
    // by itself, and each migration is run the way its statements allow.
    this.#settings.logger.debug(
      { migration: step.migration.name },
      `"${step.migration.name}" asks to run outside a transaction; on MySQL it runs like any other migration`,
    );
    return runMysqlStep(db, { tables: this.tables, settings: this.#settings }, step, run);
  }

  async record(
    db: MigrationDb,
    migrations: readonly Migration<MigrationDb>[],
    options: RecordOptions<KyselyFence>,
  ): Promise<StoreHead> {
    return db.transaction().execute(async (trx) => {
      let head: StoreHead = await lockMysqlHead(
        trx,
        this.tables,
        migrations[0]?.name ?? '(none)',
        options.expectedHead,
      );
      await checkMysqlFence(trx, this.tables, options.fence);
      for (const m of migrations) {
        const next = { count: head.count + 1, digest: nextDigest(head.digest, m.name, m.checksum) };
        await sql`
          insert into ${this.tables.records}
            (name, checksum, digest, transactional, applied_at, duration_ms, origin, adopted_from, runnable, repairs)
          values (${m.name}, ${m.checksum}, ${next.digest}, true, utc_timestamp(6), null, ${options.origin},
            ${options.adoptedFrom ?? null}, ${options.runnable}, '[]')`.execute(trx);
        head = next;
      }
      await writeMysqlHead(trx, this.tables, head);
      return head;
    });
  }

  async rewrite(db: MigrationDb, changes: RecordRewrite, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return db.transaction().execute(async (trx) => {
      const first = changes.checksums[0]?.name ?? changes.forget[0] ?? '(none)';
      await lockMysqlHead(trx, this.tables, first, options.expectedHead);
      await checkMysqlFence(trx, this.tables, options.fence);
      const head = await this.rewriteRecords(trx, changes);
      await writeMysqlHead(trx, this.tables, head);
      return head;
    });
  }

  /**
   * What an interrupted run of a pending migration left: the statements of it that took effect before the run
   * stopped (MySQL commits DDL as it runs), from the run's progress marker.
   */
  async leftovers(db: MigrationDb, migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]> {
    const earlier = await readProgress(db, this.tables).catch(() => undefined);
    const migration = earlier ? migrations.find((m) => m.name === earlier.migration) : undefined;
    return earlier && migration ? [progressLeftover(earlier, migration.name)] : [];
  }

  /** Ends a running step from another connection: KILL its connection (its transaction rolls back; DDL that ran stays). */
  async stop(db: MigrationDb, step: Step): Promise<void> {
    const id = Number(step.running.id);
    if (!Number.isSafeInteger(id) || id <= 0) return;
    await sql.raw(`kill ${id}`).execute(db);
  }

  // The engine raises mig's own errors where it finds them (CONFLICT, LOCK_LOST, MIGRATION_FAILED).
  async translate(_db: MigrationDb, error: unknown, _step: Step): Promise<unknown> {
    return error;
  }
}
