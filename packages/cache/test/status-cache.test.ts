import { readFileSync } from 'node:fs';
import { InvalidOptionError } from '@mig/core';
import { describe, expect, it } from 'vitest';
import { createStatusCache, VERSION } from '../src/index.js';

function clock() {
  const c = { t: 1_000, now: () => c.t };
  return c;
}

describe('createStatusCache', () => {
  it('peek answers from a fresh entry and counts nothing: it is not a lookup', () => {
    const c = clock();
    const cache = createStatusCache<string>({ ttlMs: 100, now: c.now });
    expect(cache.peek('k')).toBeUndefined();
    cache.set('k', 'v');
    for (let i = 0; i < 1_000; i++) expect(cache.peek('k')).toBe('v');
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0, expirations: 0, size: 1, hitRatio: null });
  });

  it('expires an entry exactly at its TTL, not a millisecond before', () => {
    const c = clock();
    const cache = createStatusCache<string>({ ttlMs: 100, now: c.now });
    cache.set('k', 'v');
    c.t += 99.999;
    expect(cache.peek('k')).toBe('v');
    c.t = 1_100;
    expect(cache.peek('k')).toBeUndefined();
  });

  it('counts one miss and one expiration per expiry, however often it is peeked at meanwhile', async () => {
    const c = clock();
    const cache = createStatusCache<string>({ ttlMs: 100, now: c.now });
    await cache.get('k', async () => 'v1');
    expect(await cache.get('k', async () => 'unused')).toEqual({ value: 'v1', cached: true });
    c.t += 100;
    for (let i = 0; i < 10; i++) expect(cache.peek('k')).toBeUndefined();
    let release!: () => void;
    const reloading = cache.get('k', () => new Promise<string>((r) => (release = () => r('v2'))));
    // Calls while the re-check runs look at the cache without a lookup: no more misses.
    for (let i = 0; i < 10; i++) expect(cache.peek('k')).toBeUndefined();
    release();
    expect(await reloading).toEqual({ value: 'v2', cached: false });
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, expirations: 1, loads: 2, hitRatio: 1 / 3 });
  });

  it('loads on a miss, then serves from the cache', async () => {
    const c = clock();
    const cache = createStatusCache<string>({ ttlMs: 100, now: c.now });
    let loads = 0;
    const load = async () => {
      loads++;
      c.t += 7;
      return `v${loads}`;
    };
    expect(await cache.get('k', load)).toEqual({ value: 'v1', cached: false });
    expect(await cache.get('k', load)).toEqual({ value: 'v1', cached: true });
    expect(loads).toBe(1);
    expect(cache.stats()).toMatchObject({
      hits: 1,
      misses: 1,
      loads: 1,
      loadFailures: 0,
      loadLatency: { count: 1, totalMs: 7, maxMs: 7, lastMs: 7 },
    });
  });

  it('makes one load for 100 concurrent misses', async () => {
    const cache = createStatusCache<number>({ ttlMs: 1_000 });
    let loads = 0;
    let release!: (v: number) => void;
    const load = () => {
      loads++;
      return new Promise<number>((r) => {
        release = r;
      });
    };
    const lookups = Array.from({ length: 100 }, () => cache.get('k', load));
    release(42);
    const results = await Promise.all(lookups);
    expect(loads).toBe(1);
    expect(results.every((r) => r.value === 42 && !r.cached)).toBe(true);
    expect(cache.stats()).toMatchObject({ misses: 100, hits: 0, loads: 1 });
  });

  it('counts a failed load, shares the failure, and loads again next time', async () => {
    const cache = createStatusCache<string>({ ttlMs: 1_000 });
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('database down');
    };
    const both = await Promise.allSettled([cache.get('k', failing), cache.get('k', failing)]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    expect(await cache.get('k', async () => 'back')).toEqual({ value: 'back', cached: false });
    expect(cache.stats()).toMatchObject({ loads: 2, loadFailures: 1 });
  });

  it('invalidates one key or all, and does not store a load that an invalidation overtook', async () => {
    const cache = createStatusCache<string>({ ttlMs: 1_000 });
    cache.set('a', '1');
    cache.set('b', '2');
    cache.invalidate('a');
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toBe('2');
    cache.invalidate();
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.stats().invalidations).toBe(2);

    let release!: (v: string) => void;
    const loading = cache.get('c', () => new Promise<string>((r) => (release = r)));
    cache.invalidate('c'); // e.g. a migration run completed while the old status was being read
    release('stale');
    expect((await loading).value).toBe('stale');
    expect(cache.peek('c')).toBeUndefined();
  });

  it('counts a reload that finds a different value as an invalidation', () => {
    const cache = createStatusCache<{ head: number }>({ ttlMs: 1_000, isSame: (a, b) => a.head === b.head });
    cache.set('k', { head: 1 });
    cache.set('k', { head: 1 });
    expect(cache.stats().invalidations).toBe(0);
    cache.set('k', { head: 2 });
    expect(cache.stats().invalidations).toBe(1);
  });

  it('warms in the background, without an unhandled rejection when the load fails', async () => {
    const cache = createStatusCache<string>({ ttlMs: 1_000 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      cache.warm('ok', async () => 'warm');
      cache.warm('bad', async () => {
        throw new Error('not yet');
      });
      await new Promise((r) => setTimeout(r, 10));
      expect(cache.peek('ok')).toBe('warm');
      expect(cache.peek('bad')).toBeUndefined();
      expect(cache.stats()).toMatchObject({ loads: 2, loadFailures: 1 });
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const cache = createStatusCache<number>({ ttlMs: 1_000, maxEntries: 2 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('c')).toBe(3);
  });

  it('rejects a TTL that is negative or not finite, and trusts nothing with a TTL of 0', () => {
    expect(() => createStatusCache({ ttlMs: -1 })).toThrow(InvalidOptionError);
    expect(() => createStatusCache({ ttlMs: Number.POSITIVE_INFINITY })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', option: 'ttlMs' }),
    );
    const never = createStatusCache<string>({ ttlMs: 0 });
    never.set('k', 'v');
    expect(never.peek('k')).toBeUndefined();
  });

  it('does not let a load that started earlier overwrite a value set since', async () => {
    const cache = createStatusCache<string>({ ttlMs: 1_000 });
    let release!: (v: string) => void;
    const loading = cache.get('k', () => new Promise<string>((r) => (release = r)));
    cache.set('k', 'newer'); // e.g. another service in this process just migrated
    release('older');
    await loading;
    expect(cache.peek('k')).toBe('newer');
  });

  it('keeps VERSION equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });
});
