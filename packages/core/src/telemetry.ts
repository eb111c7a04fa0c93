import type { Attributes, Meter, MeterProvider, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { isMigError } from './errors.js';
import { globalMeter, globalTracer } from './internal/otel-global.js';
import { VERSION } from './version.js';

/** Span names: low cardinality; what varies (the migration's name) goes into attributes. */
export const SpanName = {
  Initialize: 'mig.initialize',
  Connect: 'mig.connect',
  Check: 'mig.status.check',
  LockAcquire: 'mig.lock.acquire',
  LockRelease: 'mig.lock.release',
  Plan: 'mig.plan',
  Migration: 'mig.migration',
  Record: 'mig.record',
} as const;
export type SpanName = (typeof SpanName)[keyof typeof SpanName];

/** Attribute keys: ours under `mig.`, plus the OpenTelemetry semantic conventions where they apply. */
export const Attr = {
  DbSystem: 'db.system.name',
  DbNamespace: 'db.namespace',
  ServerAddress: 'server.address',
  ErrorType: 'error.type',
  StoreTable: 'mig.store.table',
  MigrationName: 'mig.migration.name',
  MigrationDirection: 'mig.migration.direction',
  MigrationTransactional: 'mig.migration.transactional',
  MigrationChecksum: 'mig.migration.checksum',
  StatusState: 'mig.status.state',
  StatusVia: 'mig.status.via',
  StatusCached: 'mig.status.cached',
  PendingCount: 'mig.status.pending_count',
  AppliedCount: 'mig.status.applied_count',
  DryRun: 'mig.dry_run',
  AutoMigrate: 'mig.auto_migrate',
  LockStrategy: 'mig.lock.strategy',
  LockKey: 'mig.lock.key',
  LockWaitMs: 'mig.lock.wait_ms',
  LockAttempts: 'mig.lock.attempts',
  LockHolder: 'mig.lock.holder',
  Outcome: 'mig.outcome',
  /** The tenant whose schema (database, file) a span works on. */
  Tenant: 'mig.tenant',
  /** On `mig.record`: the record was written in the same round trip as the migration itself. */
  RecordWithMigration: 'mig.record.with_migration',
  /** On `mig.migration`: how many attempts it took (short table-lock attempts, see `ddlLockTimeoutMs`). */
  MigrationAttempts: 'mig.migration.attempts',
  /** On a `mig.table_lock.wait` event: the attempt that ran out of its lock timeout. */
  TableLockAttempt: 'mig.table_lock.attempt',
  /** On a `mig.table_lock.wait` event: who held the lock (pid, application, state; no secrets). */
  TableLockBlockers: 'mig.table_lock.blockers',
  /** On a `mig.table_lock.wait` event: how long that attempt waited, ms. */
  TableLockWaitMs: 'mig.table_lock.wait_ms',
} as const;

/** Span events. */
export const EventName = {
  /** An attempt of a migration ran out of its table-lock timeout; it was rolled back and is tried again. */
  TableLockWait: 'mig.table_lock.wait',
} as const;

export interface TelemetryOptions {
  /** Defaults to the global provider; with no SDK registered everything is a no-op. */
  readonly tracerProvider?: TracerProvider | undefined;
  readonly meterProvider?: MeterProvider | undefined;
}

export interface Telemetry {
  readonly tracer: Tracer;
  readonly meter: Meter;
}

/**
 * A tracer and a meter named after the calling package and its version: from the given providers, or the
 * globals an SDK registered (reached without loading the API, see internal/otel-global.ts).
 */
export function createTelemetry(options: TelemetryOptions = {}, name = '@mig/core', version = VERSION): Telemetry {
  return {
    tracer: options.tracerProvider?.getTracer(name, version) ?? globalTracer(name, version),
    meter: options.meterProvider?.getMeter(name, version) ?? globalMeter(name, version),
  };
}

/** `SpanStatusCode.ERROR` of the API (a stable enum value), without importing it at run time. */
const SPAN_STATUS_ERROR = 2;

/** The `error.type` of a thrown value: a MigError's code, else the error's class name. */
export function errorType(error: unknown): string {
  if (isMigError(error)) return error.code;
  if (error instanceof Error) return error.name || 'Error';
  return typeof error;
}

/**
 * Runs `fn` in an active span: children (and a pg instrumentation's query spans) nest under it. On success
 * the status is left unset; on failure it is ERROR with `error.type`, and the error is rethrown.
 */
export function withSpan<T>(
  tracer: Tracer,
  name: SpanName,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks a span as failed without ending it (for results that carry their error instead of throwing). */
export function markFailed(span: Span, error: unknown): void {
  span.setAttribute(Attr.ErrorType, errorType(error));
  span.setStatus({
    code: SPAN_STATUS_ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/** Metric names, per the OpenTelemetry conventions: durations are histograms in seconds. */
export const MetricName = {
  MigrationsApplied: 'mig.migrations.applied',
  MigrationDuration: 'mig.migration.duration',
  LockWaitDuration: 'mig.lock.wait.duration',
  StatusCheckDuration: 'mig.status.check.duration',
  TableLockTimeouts: 'mig.table_lock.timeouts',
} as const;

export interface MigrationMetrics {
  migrationFinished(direction: string, transactional: boolean, seconds: number, failed: boolean): void;
  lockWaited(strategy: string, seconds: number, outcome: 'acquired' | 'timeout' | 'aborted' | 'not-needed'): void;
  statusChecked(seconds: number, cached: boolean): void;
  /** One attempt of a migration ran out of its table-lock timeout (`retried`: another attempt follows). */
  tableLockTimedOut(direction: string, retried: boolean): void;
}

/** The instruments of a migrator or service. With no SDK registered, each call is a no-op. */
export function createMigrationMetrics(meter: Meter): MigrationMetrics {
  const applied = meter.createCounter(MetricName.MigrationsApplied, {
    description: 'Migrations applied (direction up) or reverted (down).',
    unit: '{migration}',
  });
  const duration = meter.createHistogram(MetricName.MigrationDuration, {
    description: 'Time to run one migration and record it.',
    unit: 's',
  });
  const lockWait = meter.createHistogram(MetricName.LockWaitDuration, {
    description: 'Time spent waiting for the migration lock.',
    unit: 's',
  });
  const check = meter.createHistogram(MetricName.StatusCheckDuration, {
    description: 'Time to learn the migration status, from the cache or the database.',
    unit: 's',
  });
  const tableLock = meter.createCounter(MetricName.TableLockTimeouts, {
    description: 'Attempts of a migration that ran out of their table-lock timeout and were rolled back.',
    unit: '{attempt}',
  });
  return {
    tableLockTimedOut(direction, retried) {
      tableLock.add(1, { [Attr.MigrationDirection]: direction, [Attr.Outcome]: retried ? 'retried' : 'gave-up' });
    },
    migrationFinished(direction, transactional, seconds, failed) {
      const attributes = {
        [Attr.MigrationDirection]: direction,
        [Attr.MigrationTransactional]: transactional,
        [Attr.Outcome]: failed ? 'failure' : 'success',
      };
      duration.record(seconds, attributes);
      if (!failed) applied.add(1, { [Attr.MigrationDirection]: direction });
    },
    lockWaited(strategy, seconds, outcome) {
      lockWait.record(seconds, { [Attr.LockStrategy]: strategy, [Attr.Outcome]: outcome });
    },
    statusChecked(seconds, cached) {
      check.record(seconds, { [Attr.StatusCached]: cached });
    },
  };
}
