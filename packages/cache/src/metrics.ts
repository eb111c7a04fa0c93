import { createTelemetry } from '@mig/core/adapter';
import type { Meter, MeterProvider } from '@opentelemetry/api';
import { VERSION } from './version.js';

/** The counters one cache contributes; read at collection time. */
export interface CacheCounters {
  readonly hits: number;
  readonly misses: number;
  readonly expirations: number;
  readonly invalidations: number;
  readonly loads: number;
  readonly loadFailures: number;
}

const ZERO: CacheCounters = { hits: 0, misses: 0, expirations: 0, invalidations: 0, loads: 0, loadFailures: 0 };

function add(a: CacheCounters, b: CacheCounters): CacheCounters {
  return {
    hits: a.hits + b.hits,
    misses: a.misses + b.misses,
    expirations: a.expirations + b.expirations,
    invalidations: a.invalidations + b.invalidations,
    loads: a.loads + b.loads,
    loadFailures: a.loadFailures + b.loadFailures,
  };
}

/**
 * One set of instruments per meter, reporting the sum over every cache on it: the metrics describe the
 * process, and two caches observing the same attributes separately would overwrite each other. A disposed
 * cache's counts are kept, so the counters never go down.
 */
class CacheMetrics {
  readonly #live = new Set<() => CacheCounters>();
  #retired: CacheCounters = ZERO;
  readonly #duration;

  constructor(meter: Meter) {
    const lookups = meter.createObservableCounter('mig.cache.lookups', {
      description: 'Status cache lookups, by result (hit or miss).',
      unit: '{lookup}',
    });
    const expirations = meter.createObservableCounter('mig.cache.expirations', {
      description: 'Status cache lookups that found an entry past its TTL.',
      unit: '{entry}',
    });
    const invalidations = meter.createObservableCounter('mig.cache.invalidations', {
      description: 'Status cache entries invalidated.',
      unit: '{entry}',
    });
    const loads = meter.createObservableCounter('mig.cache.loads', {
      description: 'Status loads made by the cache, by outcome.',
      unit: '{load}',
    });
    meter.addBatchObservableCallback(
      (observer) => {
        let total = this.#retired;
        for (const read of this.#live) total = add(total, read());
        observer.observe(lookups, total.hits, { 'mig.cache.result': 'hit' });
        observer.observe(lookups, total.misses, { 'mig.cache.result': 'miss' });
        observer.observe(expirations, total.expirations);
        observer.observe(invalidations, total.invalidations);
        observer.observe(loads, total.loads - total.loadFailures, { 'mig.outcome': 'success' });
        observer.observe(loads, total.loadFailures, { 'mig.outcome': 'failure' });
      },
      [lookups, expirations, invalidations, loads],
    );
    this.#duration = meter.createHistogram('mig.cache.load.duration', {
      description: 'Time to load a migration status into the cache.',
      unit: 's',
    });
  }

  attach(read: () => CacheCounters): { recordLoad(seconds: number, failed: boolean): void; detach(): void } {
    this.#live.add(read);
    return {
      recordLoad: (seconds, failed) =>
        this.#duration.record(seconds, { 'mig.outcome': failed ? 'failure' : 'success' }),
      detach: () => {
        if (this.#live.delete(read)) this.#retired = add(this.#retired, read());
      },
    };
  }
}

const registry = new WeakMap<Meter, CacheMetrics>();

/** Attaches a cache's counters to the meter of `meterProvider` (or the global provider). */
export function attachCacheMetrics(meterProvider: MeterProvider | undefined, read: () => CacheCounters) {
  const { meter } = createTelemetry({ meterProvider }, '@mig/cache', VERSION);
  let metrics = registry.get(meter);
  if (!metrics) {
    metrics = new CacheMetrics(meter);
    registry.set(meter, metrics);
  }
  return metrics.attach(read);
}
