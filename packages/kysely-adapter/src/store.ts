import {
  type AppliedMigration,
  Attr,
  InvalidTargetError,
  isMigError,
  type Logger,
  MigError,
  MigErrorCode,
  type Migration,
  MigrationFailedError,
  type MigrationStore,
  SpanName,
} from '@mig/core';
import {
  type ApplyAllOptions,
  type ApplyOptions,
  createTelemetry,
  DEFAULT_DDL_LOCK_TIMEOUT_MS,
  DEFAULT_IDLE_IN_TRANSACTION_MS,
  DEFAULT_SCHEMA,
  DEFAULT_STATEMENT_LOCK_WAIT_MS,
  DEFAULT_TABLE,
  describeThrown,
  EMPTY_DIGEST,
  type ForeignHistorySummary,
  type Leftover,
  type MigrationDirection,
  nextDigest,
  type RecordOptions,
  type RecordRewrite,
  type StoreHead,
  type StoreTarget,
  silentLogger,
  type TelemetryOptions,
  withSpan,
} from '@mig/core/adapter';
import type { Tracer } from '@opentelemetry/api';
import type { MigrationDb } from './db.js';
import { detectEngine } from './detect.js';
import type { EngineDriver } from './engines/driver.js';
import type { Engine } from './engines/registry.js';
import type { KyselyFence } from './fence.js';
import { KyselyStoreInspector } from './inspector.js';
import { refusingAfter } from './stopped.js';
import {
  notLatest,
  STORE_SCHEMA_VERSION,
  type Step,
  type StepSession,
  type StoreEngine,
  throwIfStopped,
  toApplied,
} from './store-engine.js';
import { type StoreTables, storeTables } from './tables.js';
import { VERSION } from './version.js';

export { STORE_SCHEMA_VERSION } from './store-engine.js';

export interface KyselyStoreOptions {
  readonly db: MigrationDb;
  /** Schema of mig's tables (PostgreSQL; on MySQL, the database). Default "public" on PostgreSQL, the connection's own elsewhere. */
  readonly schema?: string | undefined;
  /**
   * A tenant's store: `schema` is the tenant's own (a schema on PostgreSQL, a database on MySQL), and each
   * migration runs with it as the default for unqualified names. Default false.
   */
  readonly tenant?: boolean | undefined;
  /** Table of applied migrations; the head and lock tables take this name plus `_head` and `_lock`. */
  readonly table?: string | undefined;
  /** How to name the database in spans and messages (no secrets). See `describeConnection`. */
  readonly target?: Partial<Omit<StoreTarget, 'table'>> | undefined;
  /** Overrides the engine read from the Kysely instance (its dialect adapter); rarely needed. */
  readonly engine?: Engine | undefined;
  /**
   * PostgreSQL 14+: in each migration's transaction, have the server check every this many ms that the
   * client is still there, so a migration whose process was killed is rolled back within a second instead of
   * when its statement ends. 0 disables. Default 1000 on PostgreSQL, 0 on PGlite.
   */
  readonly clientCheckIntervalMs?: number | undefined;
  /**
   * Longest wait of a statement inside a (transactional) migration for a lock another session holds,
   * e.g. an ALTER TABLE behind a long transaction: waiting longer would stall every query on that table
   * behind it. 0 disables. Default 30 s.
   */
  readonly lockWaitTimeoutMs?: number | undefined;
  /**
   * PostgreSQL and MySQL/MariaDB: one attempt's wait for a table lock inside a migration. When it runs out,
   * the migration's transaction is rolled back, so that the application's queries queued behind its lock
   * request go through, and tried again after a short backoff with jitter, until `lockWaitTimeoutMs` is spent.
   * 0 makes one attempt as long as `lockWaitTimeoutMs`. Default 1 s.
   */
  readonly ddlLockTimeoutMs?: number | undefined;
  /**
   * PostgreSQL: longest run of each statement of a migration (statement_timeout), unless the migration's own
   * `-- mig:statement-timeout` line says otherwise. 0 or unset: none.
   */
  readonly statementTimeoutMs?: number | undefined;
  /**
   * Longest time a migration's transaction may be idle (no statement running) before the server ends its
   * session, so a wedged or vanished process never holds it, its table locks and the migration lock for ever.
   * 0 disables. Default 10 minutes; give it the migration timeout when that is shorter.
   */
  readonly idleInTransactionTimeoutMs?: number | undefined;
  /** Where the `mig.record` spans go; defaults to the global provider (a no-op without an SDK). */
  readonly tracerProvider?: TelemetryOptions['tracerProvider'];
  /** Where the store says what it repairs by itself (an invalid index left by a failed run, dropped). */
  readonly logger?: Logger | undefined;
}

/**
 * mig's store on Kysely. Three tables: the applied records, a one-row head (count and digest of the history,
 * so a status check reads one row), and the lease lock rows. The engine's SQL is chosen from the Kysely
 * instance.
 */
export function createKyselyStore(options: KyselyStoreOptions): KyselyStore {
  const { capabilities, driver } = detectEngine(options.db, options.engine);
  const schema = options.schema ?? (capabilities.schemas ? DEFAULT_SCHEMA : undefined);
  const tables = storeTables(schema, options.table ?? DEFAULT_TABLE);
  const target: StoreTarget = Object.freeze({
    system: options.target?.system ?? capabilities.system,
    namespace: options.target?.namespace ?? driver.defaultNamespace,
    server: options.target?.server ?? (capabilities.embedded ? 'embedded' : 'unknown'),
    table: tables.qualified,
  });
  const settings = {
    clientCheckIntervalMs: options.clientCheckIntervalMs ?? (capabilities.embedded ? 0 : 1000),
    lockWaitTimeoutMs: options.lockWaitTimeoutMs ?? DEFAULT_STATEMENT_LOCK_WAIT_MS,
    ddlLockTimeoutMs: options.ddlLockTimeoutMs ?? DEFAULT_DDL_LOCK_TIMEOUT_MS,
    statementTimeoutMs: options.statementTimeoutMs ?? 0,
    logger: options.logger ?? silentLogger,
    idleInTransactionMs: options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_MS,
    runIn: options.tenant === true ? schema : undefined,
  };
  const { tracer } = createTelemetry({ tracerProvider: options.tracerProvider }, '@mig/kysely-adapter', VERSION);
  return new KyselyStore(options.db, {
    pool: options.db,
    logger: settings.logger,
    driver,
    engine: driver.createStore(tables, settings),
    target,
    statementTimeoutMs: settings.statementTimeoutMs,
    tracer,
  });
}

/** What a store is made of: the engine's driver and SQL, and where it is (no secrets). */
interface StoreParts {
  /** The Kysely instance the store was made on (its pool), also when it is bound to a lock's session. */
  readonly pool: MigrationDb;
  readonly logger: Logger;
  readonly driver: EngineDriver;
  readonly engine: StoreEngine;
  readonly target: StoreTarget;
  /** The store's statement timeout for migrations, ms (0: none). */
  readonly statementTimeoutMs: number;
  readonly tracer: Tracer;
}

/** mig's store on a Kysely instance; its locks' fences are {@link KyselyFence}s. */
export class KyselyStore implements MigrationStore<MigrationDb, KyselyFence> {
  readonly target: StoreTarget;
  readonly tables: StoreTables;
  /** Previews, leftovers and other tools' histories, on this store's Kysely instance. */
  readonly inspector: KyselyStoreInspector;
  readonly #db: MigrationDb;
  readonly #parts: StoreParts;
  readonly #engine: StoreEngine;
  readonly #tracer: Tracer;

  /** Use {@link createKyselyStore}. */
  constructor(db: MigrationDb, parts: StoreParts) {
    this.#db = db;
    this.#parts = parts;
    this.#engine = parts.engine;
    this.tables = parts.engine.tables;
    this.target = parts.target;
    this.#tracer = parts.tracer;
    this.inspector = new KyselyStoreInspector(db, parts.engine, parts.driver);
  }

  /** The error says mig's tables do not exist (nothing was ever recorded or locked here). */
  isMissingTables(error: unknown): boolean {
    return this.#engine.isUndefinedTable(error);
  }

  /** Under an advisory lock, this store on the lock's own session; otherwise this store. */
  bind(fence: KyselyFence): KyselyStore {
    return fence?.kind === 'advisory' ? new KyselyStore(fence.db, this.#parts) : this;
  }

  async readHead(): Promise<StoreHead | null> {
    try {
      return await this.#engine.readHead(this.#db);
    } catch (error) {
      throw this.#error('read the migration head', error);
    }
  }

  async readApplied(): Promise<readonly AppliedMigration[]> {
    try {
      return (await this.#engine.readRecords(this.#db)).map(toApplied);
    } catch (error) {
      throw this.#error('read the applied migrations', error);
    }
  }

  async prepare(): Promise<void> {
    const version = await this.#engine.schemaVersion(this.#db).catch((error: unknown) => {
      throw this.#error('read its schema version', error);
    });
    if (version === STORE_SCHEMA_VERSION) return;
    if (version !== null && version > STORE_SCHEMA_VERSION) {
      throw new MigError(
        MigErrorCode.Store,
        `The tables ${this.tables.qualified}* were created by a newer mig (store version ${version}; this one knows ${STORE_SCHEMA_VERSION}). Upgrade mig.`,
      );
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#engine.createTables(this.#db, version);
        return;
      } catch (error) {
        // Another process created them at the same moment; its objects exist now, so try once more.
        if (this.#engine.isRetryableCreate(error) && attempt < 5) continue;
        throw this.#error('create its tables', error);
      }
    }
  }

  apply(migration: Migration<MigrationDb>, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return this.#change(migration, 'up', options);
  }

  revert(migration: Migration<MigrationDb>, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return this.#change(migration, 'down', options);
  }

  /**
   * Runs `up` or `down` and records it: a transactional migration in one transaction with its record;
   * otherwise with the head, the order and the lock proven first (nothing can be rolled back), its record
   * written after it succeeds.
   */
  async #change(
    migration: Migration<MigrationDb>,
    direction: MigrationDirection,
    options: ApplyOptions<KyselyFence>,
  ): Promise<StoreHead> {
    const module = await migration.load();
    const run = direction === 'up' ? module.up : module.down;
    if (!run) {
      throw new InvalidTargetError(
        migration.name,
        `Migration "${migration.name}" has no down migration, so it cannot be reverted; nothing was changed. ` +
          'Add a down (a `down` export, or a `-- mig:down` section in a SQL file), or write a new forward migration.',
      );
    }
    const step: Step = {
      migration,
      direction,
      transactional: module.transactional,
      expected: options.expectedHead,
      fence: options.fence,
      next:
        direction === 'up'
          ? headAfter(options.expectedHead, migration)
          : await this.#headBefore(migration, options.expectedHead),
      script: module.sql?.[direction],
      statementTimeoutMs: module.statementTimeoutMs ?? this.#parts.statementTimeoutMs,
      recordSpan: (withMigration, work) => this.#recordSpan(migration.name, withMigration, work),
      signal: options.signal,
      running: {},
      pool: this.#parts.pool,
      onLockWait: options.onLockWait,
    };
    const { signal } = options;
    // Once stopped, the migration's own code gets an error for every query it still sends, and the engine
    // ends what runs (from the store's own pool: the step's session may be the lock's, and busy).
    const guarded = signal === undefined ? run : (db: MigrationDb) => run(refusingAfter(db, signal));
    const onStop = () => {
      void this.#engine.stop?.(this.#parts.pool, step).catch((error: unknown) => {
        this.#parts.logger.warn(
          { migration: migration.name, err: describeThrown(error) },
          'ending a stopped migration failed; its session ends with this process, or by its idle timeout',
        );
      });
    };
    signal?.addEventListener('abort', onStop, { once: true });
    try {
      throwIfStopped(step);
      if (module.transactional) await this.#engine.changeInTransaction(this.#db, step, guarded);
      else await this.#engine.changeOutside(this.#db, step, guarded);
      return step.next;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const translated = await this.#engine.translate(this.#db, error, step);
      if (!isMigError(translated) && this.#parts.driver.isSessionEnded(translated)) {
        throw MigrationFailedError.sessionEnded(migration.name, direction, translated, module.transactional);
      }
      throw translated;
    } finally {
      signal?.removeEventListener('abort', onStop);
    }
  }

  /** Why {@link applyAll} cannot run on this engine (MySQL); undefined when it can. */
  get singleTransactionRefused(): string | undefined {
    if (this.#engine.changeAll !== undefined) return undefined;
    return this.#engine.singleTransactionRefused ?? 'this engine cannot run several migrations in one transaction';
  }

  /**
   * Every migration's `up` and its record in one transaction (`transaction: 'all'`): one head
   * compare-and-swap before the first, one fence check after the last, one commit; a failure leaves nothing.
   */
  async applyAll(
    migrations: readonly Migration<MigrationDb>[],
    options: ApplyAllOptions<KyselyFence>,
  ): Promise<StoreHead> {
    const changeAll = this.#engine.changeAll;
    const refused = this.singleTransactionRefused;
    if (changeAll === undefined || refused !== undefined) {
      throw new MigError(
        MigErrorCode.InvalidOption,
        `Several migrations cannot run in one transaction here: ${refused}.`,
      );
    }
    const { signal } = options;
    const running: StepSession = {};
    const steps: Step[] = [];
    const ups = new Map<Step, (db: MigrationDb) => Promise<void>>();
    let expected = options.expectedHead;
    for (const migration of migrations) {
      const module = await migration.load();
      if (!module.transactional) {
        throw new MigError(
          MigErrorCode.InvalidOption,
          `Migration "${migration.name}" runs outside a transaction, so it cannot run in one transaction with others; nothing was applied.`,
        );
      }
      const step: Step = {
        migration,
        direction: 'up',
        transactional: true,
        expected,
        fence: options.fence,
        next: headAfter(expected, migration),
        script: module.sql?.up,
        recordSpan: (withMigration, work) => this.#recordSpan(migration.name, withMigration, work),
        signal,
        running,
        pool: this.#parts.pool,
        statementTimeoutMs: module.statementTimeoutMs ?? this.#parts.statementTimeoutMs,
      };
      steps.push(step);
      ups.set(step, module.up);
      expected = step.next;
    }
    const first = steps[0];
    if (first === undefined) return options.expectedHead;
    let current = first;
    const run = (step: Step, db: MigrationDb) => {
      const up = ups.get(step) as (db: MigrationDb) => Promise<void>;
      return up(signal === undefined ? db : refusingAfter(db, signal));
    };
    const onStop = () => {
      void this.#engine.stop?.(this.#parts.pool, first).catch(() => {});
    };
    signal?.addEventListener('abort', onStop, { once: true });
    try {
      await changeAll.call(this.#engine, this.#db, steps, run, {
        onStart: (step) => {
          current = step;
          options.onStart?.(step.migration.name);
        },
        onRan: (step, durationMs) => options.onRan?.(step.migration.name, durationMs),
      });
      return expected;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const translated = await this.#engine.translate(this.#db, error, current);
      if (!isMigError(translated) && this.#parts.driver.isSessionEnded(translated)) {
        throw MigrationFailedError.sessionEnded(current.migration.name, 'up', translated, true);
      }
      throw translated;
    } finally {
      signal?.removeEventListener('abort', onStop);
    }
  }

  /** The head a revert of `migration` goes back to; CONFLICT unless it is the latest applied. */
  async #headBefore(migration: Migration<MigrationDb>, expected: StoreHead): Promise<StoreHead> {
    const rows = await this.#engine.latest(this.#db, 2);
    if (rows[0]?.name !== migration.name) throw notLatest(migration.name, rows[0]?.name ?? null);
    return { count: expected.count - 1, digest: rows[1]?.digest ?? EMPTY_DIGEST };
  }

  /** The `mig.record` span: the round trip that wrote a migration's record. */
  #recordSpan<T>(name: string, withMigration: boolean, work: () => Promise<T>): Promise<T> {
    const attributes = {
      [Attr.DbSystem]: this.target.system,
      [Attr.DbNamespace]: this.target.namespace,
      [Attr.StoreTable]: this.tables.qualified,
      [Attr.MigrationName]: name,
      [Attr.RecordWithMigration]: withMigration,
    };
    if (!withMigration) return withSpan(this.#tracer, SpanName.Record, attributes, work);
    // One round trip did both: the span covers it, and exists only once the record is written (a failure
    // is the migration's, on its own span).
    const startTime = Date.now();
    return work().then((result) => {
      this.#tracer.startSpan(SpanName.Record, { attributes, startTime }).end();
      return result;
    });
  }

  record(migrations: readonly Migration<MigrationDb>[], options: RecordOptions<KyselyFence>): Promise<StoreHead> {
    return this.#engine.record(this.#db, migrations, options);
  }

  rewrite(changes: RecordRewrite, options: ApplyOptions<KyselyFence>): Promise<StoreHead> {
    return this.#engine.rewrite(this.#db, changes, options);
  }

  /** Same as `inspector.leftovers(migrations)`. */
  leftovers(migrations: readonly Migration<MigrationDb>[]): Promise<readonly Leftover[]> {
    return this.inspector.leftovers(migrations);
  }

  /** Same as `inspector.foreignHistories()`. */
  foreignHistories(): Promise<readonly ForeignHistorySummary[]> {
    return this.inspector.foreignHistories();
  }

  /** Same as `inspector.preview(migration, direction)`. */
  preview(migration: Migration<MigrationDb>, direction: 'up' | 'down'): Promise<readonly string[] | undefined> {
    return this.inspector.preview(migration, direction);
  }

  #error(action: string, error: unknown): MigError {
    if (isMigError(error)) return error;
    return new MigError(
      MigErrorCode.Store,
      `mig could not ${action} (database "${this.target.namespace}", table ${this.tables.qualified}): ${describeThrown(error)}`,
      { cause: error, context: { table: this.tables.qualified } },
    );
  }
}

function headAfter(head: StoreHead, migration: Migration<MigrationDb>): StoreHead {
  return { count: head.count + 1, digest: nextDigest(head.digest, migration.name, migration.checksum) };
}
