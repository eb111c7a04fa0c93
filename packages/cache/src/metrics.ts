import { createTelemetry } from '@mig/core/adapter';
import type { Attributes, Meter, MeterProvider } from '@opentelemetry/api';
import { VERSION } from './version.js';

/**
 * Every counter a cache keeps, at zero: the one list of them. The cache's fields, its `stats()` and the
 * metrics below are built from it, so a new counter is added here and nowhere else (and a metric for it below).
 */
const ZERO = Object.freeze({
  hits: 0,
  misses: 0,
  /** Lookups that found an entry past its TTL (each is also a miss). */
  expirations: 0,
  /** Entries dropped by `invalidate`, or replaced by a load that found a different value. */
  invalidations: 0,
  loads: 0,
  loadFailures: 0,
});

/** The counters one cache contributes; read at collection time. */
export type CacheCounters = { readonly [K in keyof typeof ZERO]: number };

const COUNTERS = Object.keys(ZERO) as (keyof CacheCounters)[];

/** A cache's own counters, all zero, for it to increment. */
export function zeroCounters(): { -readonly [K in keyof CacheCounters]: number } {
  return { ...ZERO };
}

function add(a: CacheCounters, b: CacheCounters): CacheCounters {
  const sum = zeroCounters();
  for (const key of COUNTERS) sum[key] = a[key] + b[key];
  return sum;
}

/** An observable counter and the points it reports from the counters (the attributes tell them apart). */
interface Instrument {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  points(total: CacheCounters): ReadonlyArray<readonly [value: number, attributes?: Attributes]>;
}

const INSTRUMENTS: readonly Instrument[] = [
  {
    name: 'mig.cache.lookups',
    description: 'Status cache lookups, by result (hit or miss).',
    unit: '{lookup}',
    points: (t) => [
      [t.hits, { 'mig.cache.result': 'hit' }],
      [t.misses, { 'mig.cache.result': 'miss' }],
    ],
  },
  {
    name: 'mig.cache.expirations',
    description: 'Status cache lookups that found an entry past its TTL.',
    unit: '{entry}',
    points: (t) => [[t.expirations]],
  },
  {
    name: 'mig.cache.invalidations',
    description: 'Status cache entries invalidated.',
    unit: '{entry}',
    points: (t) => [[t.invalidations]],
  },
  {
    name: 'mig.cache.loads',
    description: 'Status loads made by the cache, by outcome.',
    unit: '{load}',
    points: (t) => [
      [t.loads - t.loadFailures, { 'mig.outcome': 'success' }],
      [t.loadFailures, { 'mig.outcome': 'failure' }],
    ],
  },
];

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
    const observed = INSTRUMENTS.map((instrument) => ({
      instrument,
      counter: meter.createObservableCounter(instrument.name, {
        description: instrument.description,
        unit: instrument.unit,
      }),
    }));
    meter.addBatchObservableCallback(
      (observer) => {
        let total = this.#retired;
        for (const read of this.#live) total = add(total, read());
        for (const { instrument, counter } of observed) {
          for (const [value, attributes] of instrument.points(total)) observer.observe(counter, value, attributes);
        }
      },
      observed.map(({ counter }) => counter),
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
