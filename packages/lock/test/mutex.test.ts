import { AbortedError, LockTimeoutError, type MigrationLock } from '@mig/core';
import type { LockLease } from '@mig/core/adapter';
import { describe, expect, it } from 'vitest';
import { createLocalLock, Mutex, processMutex, withProcessMutex } from '../src/index.js';

describe('Mutex', () => {
  it('grants in arrival order', async () => {
    const mutex = new Mutex();
    const order: number[] = [];
    const first = await mutex.acquire();
    const waiters = [1, 2, 3].map((n) =>
      mutex.acquire().then((release) => {
        order.push(n);
        release();
      }),
    );
    expect(mutex.locked).toBe(true);
    first();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(mutex.locked).toBe(false);
  });

  it('times out a waiter and removes it from the queue', async () => {
    const mutex = new Mutex();
    const release = await mutex.acquire();
    const error = await mutex.acquire({ timeoutMs: 20, key: 'test key' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as Error).message).toContain('test key');
    release();
    expect(mutex.locked).toBe(false);
  });

  it('stops a waiter on abort', async () => {
    const mutex = new Mutex();
    const release = await mutex.acquire();
    const controller = new AbortController();
    const waiting = mutex.acquire({ signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    release();
    expect(mutex.locked).toBe(false);
  });

  it('is one mutex per key for the whole process', () => {
    expect(processMutex('a')).toBe(processMutex('a'));
    expect(processMutex('a')).not.toBe(processMutex('b'));
  });
});

describe('withProcessMutex', () => {
  it('lets one caller at a time reach the inner lock; the others wait in process', async () => {
    let inside = 0;
    let maxInside = 0;
    let acquisitions = 0;
    const inner: MigrationLock<number> = {
      strategy: 'test',
      key: `k-${Math.random()}`,
      livesInStore: false,
      async acquire(): Promise<LockLease<number>> {
        acquisitions++;
        inside++;
        maxInside = Math.max(maxInside, inside);
        return {
          fence: acquisitions,
          waitedMs: 0,
          lost: new AbortController().signal,
          release: async () => {
            inside--;
          },
        };
      },
    };
    const lock = withProcessMutex(inner);
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const lease = await lock.acquire({ timeoutMs: 5_000 });
        await new Promise((r) => setTimeout(r, 2));
        await lease.release();
      }),
    );
    expect(acquisitions).toBe(10);
    expect(maxInside).toBe(1);
  });

  it('counts the in-process wait toward the timeout', async () => {
    const inner: MigrationLock<number> = {
      strategy: 'test',
      key: `k-${Math.random()}`,
      livesInStore: false,
      acquire: async ({ timeoutMs }) => ({
        fence: timeoutMs,
        waitedMs: 0,
        lost: new AbortController().signal,
        release: async () => {},
      }),
    };
    const lock = withProcessMutex(inner);
    const first = await lock.acquire({ timeoutMs: 1_000 });
    const second = lock.acquire({ timeoutMs: 1_000 });
    await new Promise((r) => setTimeout(r, 100));
    await first.release();
    const lease = await second;
    expect(lease.fence as number).toBeLessThan(950);
    expect(lease.waitedMs).toBeGreaterThanOrEqual(90);
    await lease.release();
  });
});

describe('a timeout after the in-process wait', () => {
  it('reports the whole wait, mutex included', async () => {
    const inner: MigrationLock<number> = {
      strategy: 'test',
      key: `k-${Math.random()}`,
      livesInStore: false,
      acquire: async ({ timeoutMs }) => {
        await new Promise((r) => setTimeout(r, timeoutMs));
        throw new LockTimeoutError('k', timeoutMs, null);
      },
    };
    const lock = withProcessMutex(inner);
    // Another caller in this process holds the same key for 150 ms; the inner lock then times out.
    const other = withProcessMutex({
      ...inner,
      acquire: async () => ({ fence: 0, waitedMs: 0, lost: new AbortController().signal, release: async () => {} }),
    });
    const held = await other.acquire({ timeoutMs: 100 });
    setTimeout(() => void held.release(), 150);
    const error = (await lock.acquire({ timeoutMs: 400 }).catch((e: unknown) => e)) as LockTimeoutError;
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(error.waitedMs).toBeGreaterThanOrEqual(395);
  });
});

describe('createLocalLock', () => {
  it('serialises callers and times out with the holder described', async () => {
    const lock = createLocalLock(`pglite-${Math.random()}`);
    const lease = await lock.acquire({ timeoutMs: 100 });
    const error = await lock.acquire({ timeoutMs: 30 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as Error).message).toContain('another caller in this process');
    await lease.release();
    const again = await lock.acquire({ timeoutMs: 30 });
    await again.release();
  });
});
