// The service's status check: from the status cache, or (on a miss) from the migrator within a timeout, so
// a connection that hangs (a failover) cannot hold every caller forever.
import type { Tracer } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import { bounded } from '../internal/bounds.js';
import type { Migrator } from '../migrator/types.js';
import type { StatusCache } from '../ports.js';
import type { MigrationStatus } from '../status.js';
import { Attr, type MigrationMetrics, SpanName, withSpan } from '../telemetry.js';

export interface StatusCheckOptions {
  readonly cache?: StatusCache<MigrationStatus> | undefined;
  /** Longest wait for the migrator's answer on a miss. */
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly tracer: Tracer;
  readonly metrics: MigrationMetrics;
}

/** A status, where it came from, and how long it took to learn. */
export interface CheckedStatus {
  readonly status: MigrationStatus;
  readonly source: 'cache' | 'database';
  readonly durationMs: number;
}

/**
 * The status from the cache or, on a miss (or when `fresh`: the cached entry is dropped first), from the
 * migrator. A read from the database is traced and measured by the migrator; a cache hit is traced and
 * measured here, so every check has its `mig.status.check` span.
 */
export async function checkStatus(
  options: StatusCheckOptions,
  migrator: Migrator<unknown>,
  key: string,
  fresh: boolean,
): Promise<CheckedStatus> {
  const { cache, clock } = options;
  const started = clock.now();
  if (fresh) cache?.invalidate(key);
  const read = () => bounded(migrator.status(), options.timeoutMs, 'The migration status check', clock);
  const { value: status, cached } = cache ? await cache.get(key, read) : { value: await read(), cached: false };
  if (cached) {
    options.metrics.statusChecked((clock.now() - started) / 1000, true);
    await withSpan(options.tracer, SpanName.Check, { [Attr.StatusCached]: true }, async (span) => {
      span.setAttributes({ [Attr.StatusState]: status.state, [Attr.PendingCount]: status.pending.length });
    });
  }
  return { status, source: cached ? 'cache' : 'database', durationMs: clock.now() - started };
}
