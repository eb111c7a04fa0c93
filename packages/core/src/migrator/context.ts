import type { Attributes, Tracer } from '@opentelemetry/api';
import { type Clock, systemClock } from '../clock.js';
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_MIGRATION_TIMEOUT_MS,
  DEFAULT_TRANSACTION_MODE,
  type TransactionMode,
} from '../defaults.js';
import { LocalHistory } from '../planner.js';
import type { Logger, MigrationStore } from '../ports.js';
import { silentLogger } from '../ports.js';
import { Attr, createMigrationMetrics, createTelemetry, type MigrationMetrics } from '../telemetry.js';
import type { MigratorOptions } from './types.js';

/**
 * What every job of one migrator shares (status, the lock section, the run, the history operations): its
 * frozen options, logger, tracer and metrics, and the local migrations, loaded once. One per migrator.
 */
export class MigratorContext<Db, F> {
  readonly options: Readonly<MigratorOptions<Db, F>>;
  readonly logger: Logger;
  readonly tracer: Tracer;
  readonly metrics: MigrationMetrics;
  readonly clock: Clock;
  #history: Promise<LocalHistory<Db>> | undefined;

  constructor(options: MigratorOptions<Db, F>) {
    this.options = Object.freeze({ ...options });
    this.logger = options.logger ?? silentLogger;
    const telemetry = createTelemetry(options);
    this.tracer = telemetry.tracer;
    this.metrics = createMigrationMetrics(telemetry.meter);
    this.clock = options.clock ?? systemClock;
  }

  /** The store as given, bound to no lock. */
  get store(): MigrationStore<Db, F> {
    return this.options.store;
  }

  get lockTimeoutMs(): number {
    return this.options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  get migrationTimeoutMs(): number | undefined {
    return this.options.migrationTimeoutMs ?? DEFAULT_MIGRATION_TIMEOUT_MS;
  }

  get transaction(): TransactionMode {
    return this.options.transaction ?? DEFAULT_TRANSACTION_MODE;
  }

  /** The local migrations, loaded from the source on first use. */
  localHistory(): Promise<LocalHistory<Db>> {
    if (!this.#history) {
      const loading = this.options.source.load().then((list) => new LocalHistory(list));
      // A failed load is not kept: the next call reads the source again.
      loading.catch(() => {
        if (this.#history === loading) this.#history = undefined;
      });
      this.#history = loading;
    }
    return this.#history;
  }

  /** The attributes that say which store a span is about (no secrets). */
  storeAttributes(): Attributes {
    const { target } = this.options.store;
    const attributes: Attributes = {
      [Attr.DbSystem]: target.system,
      [Attr.DbNamespace]: target.namespace,
      [Attr.StoreTable]: target.table,
    };
    const host = /^(.+):\d+$/.exec(target.server)?.[1];
    if (host) attributes[Attr.ServerAddress] = host;
    return attributes;
  }
}
