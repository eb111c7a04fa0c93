import { DEFAULT_STATUS_TTL_MS, InvalidOptionError, type StatusCache } from '@mig/core';
import type { CacheLookup } from '@mig/core/adapter';
import type { MeterProvider } from '@opentelemetry/api';
import { attachCacheMetrics, type CacheCounters, zeroCounters } from './metrics.js';

/** The cache's default TTL: core's `DEFAULT_STATUS_TTL_MS` (5 minutes), under the name this package exports. */
export const DEFAULT_CACHE_TTL_MS = DEFAULT_STATUS_TTL_MS;

/** What the cache has done since it was created: its counters, load latency, size and hit ratio. */
export interface CacheStats extends CacheCounters {
  readonly loadLatency: {
    readonly count: number;
    readonly totalMs: number;
    readonly maxMs: number;
    readonly lastMs: number | null;
  };
  readonly size: number;
  /** hits / (hits + misses), or null before the first lookup. */
  readonly hitRatio: number | null;
}

export interface StatusCacheOptions<T> {
  /** How long an entry is trusted. Default 5 minutes. */
  readonly ttlMs?: number | undefined;
  /** Most entries kept; the oldest is dropped first. Default 100. */
  readonly maxEntries?: number | undefined;
  /** Monotonic milliseconds; injected in tests. Default `performance.now`. */
  readonly now?: (() => number) | undefined;
  /** Tells whether a newly loaded value differs from the cached one (counted as an invalidation). */
  readonly isSame?: ((a: T, b: T) => boolean) | undefined;
  /** Metrics go to this provider (or the global one); with no SDK registered they cost nothing. */
  readonly meterProvider?: MeterProvider | undefined;
}

interface Entry<T> {
  readonly value: T;
  readonly expiresAt: number;
}

export interface MigStatusCache<T> extends StatusCache<T> {
  /** Starts a load in the background; a failure is counted, never an unhandled rejection. */
  warm(key: string, load: () => Promise<T>): void;
  stats(): CacheStats;
  /** Unregisters the cache's metrics (entries stay readable). */
  dispose(): void;
}

/**
 * A TTL cache of migration status. Entries expire by themselves when read after their TTL: there is no
 * timer, so nothing keeps a process alive. Concurrent misses for one key share one load.
 *
 * @example
 * const cache = createStatusCache({ ttlMs: 60_000 });
 * const { value, cached } = await cache.get(key, () => migrator.status());
 */
export function createStatusCache<T = unknown>(options: StatusCacheOptions<T> = {}): MigStatusCache<T> {
  return new TtlStatusCache(options);
}

class TtlStatusCache<T> implements MigStatusCache<T> {
  readonly ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #isSame: ((a: T, b: T) => boolean) | undefined;
  readonly #entries = new Map<string, Entry<T>>();
  readonly #loading = new Map<string, { generation: number; promise: Promise<T> }>();
  /** Bumped by invalidate, so a load that started before it does not store a stale value. */
  readonly #generations = new Map<string, number>();
  readonly #counts = zeroCounters();
  #latencyCount = 0;
  #latencyTotal = 0;
  #latencyMax = 0;
  #latencyLast: number | null = null;
  readonly #metrics: { recordLoad(seconds: number, failed: boolean): void; detach(): void };

  constructor(options: StatusCacheOptions<T>) {
    const ttlMs = options.ttlMs ?? DEFAULT_CACHE_TTL_MS;
    // 0 is allowed: nothing is ever fresh, so every check reads the database.
    if (!(ttlMs >= 0) || !Number.isFinite(ttlMs)) {
      throw new InvalidOptionError('ttlMs', `Cache TTL must be 0 or a positive number of milliseconds, got ${ttlMs}.`, {
        context: { value: ttlMs },
      });
    }
    this.ttlMs = ttlMs;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 100);
    this.#now = options.now ?? (() => performance.now());
    this.#isSame = options.isSame;
    this.#metrics = attachCacheMetrics(options.meterProvider, () => this.#counts);
  }

  /**
   * The fresh value, or undefined: the service's ready-path freshness test. Not a lookup: it counts nothing,
   * allocates nothing and changes nothing (an expired entry stays until a lookup finds it).
   */
  peek(key: string): T | undefined {
    const entry = this.#entries.get(key);
    return entry !== undefined && this.#now() < entry.expiresAt ? entry.value : undefined;
  }

  /**
   * A lookup: a status check that needs the status. A hit when a fresh entry answers it; otherwise a miss
   * (and, when the entry had expired, one expiration) and a load, shared with any load already running.
   */
  async get(key: string, load: () => Promise<T>): Promise<CacheLookup<T>> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && this.#now() < entry.expiresAt) {
      this.#counts.hits++;
      return { value: entry.value, cached: true };
    }
    this.#counts.misses++;
    if (entry !== undefined) {
      this.#entries.delete(key);
      this.#counts.expirations++;
    }
    const generation = this.#generations.get(key) ?? 0;
    const inflight = this.#loading.get(key);
    if (inflight && inflight.generation === generation) return { value: await inflight.promise, cached: false };
    const promise = this.#load(key, load, generation);
    this.#loading.set(key, { generation, promise });
    try {
      return { value: await promise, cached: false };
    } finally {
      if (this.#loading.get(key)?.promise === promise) this.#loading.delete(key);
    }
  }

  async #load(key: string, load: () => Promise<T>, generation: number): Promise<T> {
    this.#counts.loads++;
    const started = this.#now();
    try {
      const value = await load();
      this.#observeLatency(this.#now() - started, false);
      if ((this.#generations.get(key) ?? 0) === generation) this.set(key, value);
      return value;
    } catch (error) {
      this.#counts.loadFailures++;
      this.#observeLatency(this.#now() - started, true);
      throw error;
    }
  }

  #observeLatency(ms: number, failed: boolean): void {
    this.#latencyCount++;
    this.#latencyTotal += ms;
    this.#latencyMax = Math.max(this.#latencyMax, ms);
    this.#latencyLast = ms;
    this.#metrics.recordLoad(ms / 1000, failed);
  }

  set(key: string, value: T): void {
    // A load that started before this value was set must not overwrite it when it finishes.
    this.#generations.set(key, (this.#generations.get(key) ?? 0) + 1);
    const previous = this.#entries.get(key);
    if (previous !== undefined && this.#isSame && !this.#isSame(previous.value, value)) this.#counts.invalidations++;
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: this.#now() + this.ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  invalidate(key?: string): void {
    const keys = key === undefined ? [...new Set([...this.#entries.keys(), ...this.#loading.keys()])] : [key];
    for (const k of keys) {
      if (this.#entries.delete(k)) this.#counts.invalidations++;
      this.#generations.set(k, (this.#generations.get(k) ?? 0) + 1);
    }
  }

  warm(key: string, load: () => Promise<T>): void {
    this.get(key, load).catch(() => {
      // Counted as a load failure; the next lookup loads again.
    });
  }

  dispose(): void {
    this.#metrics.detach();
  }

  stats(): CacheStats {
    const { hits, misses } = this.#counts;
    return {
      ...this.#counts,
      loadLatency: {
        count: this.#latencyCount,
        totalMs: this.#latencyTotal,
        maxMs: this.#latencyMax,
        lastMs: this.#latencyLast,
      },
      size: this.#entries.size,
      hitRatio: hits + misses === 0 ? null : hits / (hits + misses),
    };
  }
}
