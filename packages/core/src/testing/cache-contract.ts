import { describe, expect } from 'vitest';
import type { StatusCache } from '../ports.js';
import { caseRegistry, deferred, rejection } from './cases.js';

/** What the suite gives the harness to build a cache: the TTL, and the clock the cache must read. */
export interface CacheContractOptions {
  readonly ttlMs: number;
  /** Monotonic milliseconds, moved by the suite: the cache reads time from this only. */
  readonly now: () => number;
}

/**
 * How {@link describeCacheContract} builds a cache.
 *
 * @example
 * describeCacheContract('createStatusCache', {
 *   create: ({ ttlMs, now }) => createStatusCache({ ttlMs, now }),
 * });
 */
export interface CacheContractHarness {
  /** A new, empty cache for one case. */
  create(options: CacheContractOptions): StatusCache<unknown>;
  /**
   * Titles of cases this implementation is known to fail, each tracked as a bug. They run as `it.fails`, so
   * the suite turns red once the bug is fixed and the entry must be removed.
   */
  readonly expectedFailures?: readonly CacheCase[] | undefined;
}

/** The cases of {@link describeCacheContract}, by title. */
export const CACHE_CASES = [
  'get loads on a miss, then answers from the cache without loading',
  'peek is synchronous: the fresh value, or undefined when absent',
  'an entry expires once ttlMs has passed on the injected clock',
  'set stores a value and restarts its TTL',
  'concurrent misses for one key share one load',
  'keys are independent',
  'invalidate(key) drops that entry and invalidate() drops every entry',
  'a load that started before invalidate neither stores its value nor is joined by a later get',
  'a load that started before set does not overwrite the newer value',
  'a failed load is not cached: every waiter sees the error and the next get loads again',
  'ttlMs 0 trusts nothing: every get loads and peek finds nothing',
] as const;

/** The title of one case, e.g. for `expectedFailures`. */
export type CacheCase = (typeof CACHE_CASES)[number];

/**
 * The contract every {@link StatusCache} must pass: loads on a miss, single-flight loads, TTL expiry on an
 * injected clock, invalidation that no load in flight can undo, and failures that are never cached.
 */
export function describeCacheContract(name: string, harness: CacheContractHarness): void {
  const test = caseRegistry(`describeCacheContract(${name})`, CACHE_CASES, harness.expectedFailures);
  const context: CacheContext = { test, setup: (ttlMs) => setupCache(harness, ttlMs) };

  describe(`${name}: StatusCache contract`, () => {
    hitAndExpiryCases(context);
    sharingAndInvalidationCases(context);
    staleLoadCases(context);
    failureAndZeroTtlCases(context);
  });
}

/** What the groups of cases share: how to register a case, and how to build a cache for one. */
interface CacheContext {
  readonly test: ReturnType<typeof caseRegistry<CacheCase>>;
  /** A new cache for one case (see {@link setupCache}); `ttlMs` is 1 000 unless given. */
  readonly setup: (ttlMs?: number) => ReturnType<typeof setupCache>;
}

/** A cache on a clock that moves only when the case says so, and a load that counts its calls. */
function setupCache(harness: CacheContractHarness, ttlMs = 1_000) {
  const clock = { time: 10_000 };
  const cache = harness.create({ ttlMs, now: () => clock.time });
  const loads: string[] = [];
  const load = (key: string, value: unknown) => async () => {
    loads.push(key);
    return value;
  };
  return { clock, cache, loads, load };
}

/** Loads on a miss, hits, peek, and the TTL on the injected clock. */
function hitAndExpiryCases({ test, setup }: CacheContext): void {
  test('get loads on a miss, then answers from the cache without loading', async () => {
    const { cache, loads, load } = setup();
    expect(cache.ttlMs).toBe(1_000);
    const value = { state: 'up-to-date' };
    expect(await cache.get('k', load('k', value))).toEqual({ value, cached: false });
    const hit = await cache.get('k', load('k', { state: 'other' }));
    expect(hit.cached).toBe(true);
    expect(hit.value).toBe(value);
    expect(loads).toEqual(['k']);
    expect(cache.peek('k')).toBe(value);
  });

  test('peek is synchronous: the fresh value, or undefined when absent', () => {
    const { cache } = setup();
    expect(cache.peek('k')).toBeUndefined();
    const value = { state: 'pending' };
    cache.set('k', value);
    // toBe, not a resolved promise: peek is on the fast path and never awaits.
    expect(cache.peek('k')).toBe(value);
    expect(cache.peek('other')).toBeUndefined();
  });

  test('an entry expires once ttlMs has passed on the injected clock', async () => {
    const { clock, cache, loads, load } = setup(1_000);
    await cache.get('k', load('k', 'first'));
    clock.time += 999;
    expect(cache.peek('k')).toBe('first');
    expect(await cache.get('k', load('k', 'unused'))).toEqual({ value: 'first', cached: true });
    clock.time += 1;
    expect(cache.peek('k')).toBeUndefined();
    expect(await cache.get('k', load('k', 'second'))).toEqual({ value: 'second', cached: false });
    expect(loads).toEqual(['k', 'k']);
    expect(cache.peek('k')).toBe('second');
  });

  test('set stores a value and restarts its TTL', async () => {
    const { clock, cache, loads, load } = setup(1_000);
    cache.set('k', 'first');
    clock.time += 600;
    cache.set('k', 'second');
    clock.time += 600;
    expect(cache.peek('k')).toBe('second');
    expect(await cache.get('k', load('k', 'unused'))).toEqual({ value: 'second', cached: true });
    expect(loads).toEqual([]);
    clock.time += 400;
    expect(cache.peek('k')).toBeUndefined();
  });
}

/** One load shared by concurrent misses, keys kept apart, and invalidation of one key or all. */
function sharingAndInvalidationCases({ test, setup }: CacheContext): void {
  test('concurrent misses for one key share one load', async () => {
    const { cache } = setup();
    const pending = deferred<unknown>();
    let calls = 0;
    const load = () => {
      calls++;
      return pending.promise;
    };
    const lookups = [cache.get('k', load), cache.get('k', load), cache.get('k', load)];
    const value = { state: 'up-to-date' };
    pending.resolve(value);
    const results = await Promise.all(lookups);
    expect(calls).toBe(1);
    for (const result of results) expect(result).toEqual({ value, cached: false });
    expect(results[1]?.value).toBe(value);
    expect(await cache.get('k', load)).toEqual({ value, cached: true });
    expect(calls).toBe(1);
  });

  test('keys are independent', async () => {
    const { cache, loads, load } = setup();
    await cache.get('a', load('a', 'A'));
    await cache.get('b', load('b', 'B'));
    expect(loads).toEqual(['a', 'b']);
    expect([cache.peek('a'), cache.peek('b')]).toEqual(['A', 'B']);
    cache.invalidate('a');
    expect([cache.peek('a'), cache.peek('b')]).toEqual([undefined, 'B']);
  });

  test('invalidate(key) drops that entry and invalidate() drops every entry', async () => {
    const { cache, loads, load } = setup();
    cache.set('a', 'A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    cache.invalidate('a');
    expect([cache.peek('a'), cache.peek('b'), cache.peek('c')]).toEqual([undefined, 'B', 'C']);
    expect(await cache.get('a', load('a', 'A2'))).toEqual({ value: 'A2', cached: false });
    cache.invalidate();
    expect([cache.peek('a'), cache.peek('b'), cache.peek('c')]).toEqual([undefined, undefined, undefined]);
    expect(await cache.get('b', load('b', 'B2'))).toEqual({ value: 'B2', cached: false });
    expect(loads).toEqual(['a', 'b']);
    // Invalidating what is not there is no error.
    cache.invalidate('never-set');
  });
}

/** A load in flight that invalidate or set made stale: it must not undo them. */
function staleLoadCases({ test, setup }: CacheContext): void {
  test('a load that started before invalidate neither stores its value nor is joined by a later get', async () => {
    const { cache } = setup();
    const early = deferred<unknown>();
    const lookup = cache.get('k', () => early.promise);
    cache.invalidate('k');
    early.resolve('stale');
    // Its own caller still gets the answer it waited for; the cache does not keep it.
    expect(await lookup).toEqual({ value: 'stale', cached: false });
    expect(cache.peek('k')).toBeUndefined();

    const before = deferred<unknown>();
    const after = deferred<unknown>();
    let afterCalls = 0;
    const first = cache.get('k', () => before.promise);
    cache.invalidate();
    const second = cache.get('k', () => {
      afterCalls++;
      return after.promise;
    });
    expect(afterCalls, 'a get after invalidate() starts its own load').toBe(1);
    after.resolve('fresh');
    expect(await second).toEqual({ value: 'fresh', cached: false });
    before.resolve('stale');
    expect(await first).toEqual({ value: 'stale', cached: false });
    expect(cache.peek('k')).toBe('fresh');
  });

  test('a load that started before set does not overwrite the newer value', async () => {
    const { cache } = setup();
    const slow = deferred<unknown>();
    const lookup = cache.get('k', () => slow.promise);
    cache.set('k', 'newer');
    slow.resolve('older');
    await lookup;
    expect(cache.peek('k')).toBe('newer');
  });
}

/** Failed loads are never cached, and a TTL of 0 caches nothing. */
function failureAndZeroTtlCases({ test, setup }: CacheContext): void {
  test('a failed load is not cached: every waiter sees the error and the next get loads again', async () => {
    const { cache, loads, load } = setup();
    const failure = deferred<unknown>();
    const boom = new Error('database unreachable');
    const first = cache.get('k', () => failure.promise);
    const second = cache.get('k', () => failure.promise);
    failure.reject(boom);
    expect(await rejection(first, 'the failed load')).toBe(boom);
    expect(await rejection(second, 'a lookup sharing the failed load')).toBe(boom);
    expect(cache.peek('k')).toBeUndefined();
    expect(await cache.get('k', load('k', 'recovered'))).toEqual({ value: 'recovered', cached: false });
    expect(loads).toEqual(['k']);
  });

  test('ttlMs 0 trusts nothing: every get loads and peek finds nothing', async () => {
    const { cache, loads, load } = setup(0);
    expect(cache.ttlMs).toBe(0);
    expect(await cache.get('k', load('k', 'first'))).toEqual({ value: 'first', cached: false });
    expect(await cache.get('k', load('k', 'second'))).toEqual({ value: 'second', cached: false });
    expect(loads).toEqual(['k', 'k']);
    cache.set('k', 'set');
    expect(cache.peek('k')).toBeUndefined();
  });
}
