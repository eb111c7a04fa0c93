import { AbortedError, LockTimeoutError } from '@mig/core';
import type { LockHolder, LockWait, TryLockResult } from '@mig/core/adapter';
import { describe, expect, it } from 'vitest';
import { pollForLock } from '../src/index.js';
import { FakeClock } from './fake-clock.js';

const holder: LockHolder = { pid: 77, applicationName: 'api', since: new Date('2026-01-01T00:00:00Z') };
const busy = (): TryLockResult<string> => ({ acquired: false, holder });

describe('pollForLock', () => {
  it('retries a busy lock with growing waits until it is granted', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const waits: LockWait[] = [];
    const result = await pollForLock(async () => (++calls < 4 ? busy() : { acquired: true, value: 'fence' }), {
      key: 'k',
      timeoutMs: 10_000,
      clock,
      onWait: (w) => waits.push(w),
      backoff: { jitter: 0 },
    });
    expect(result).toMatchObject({ value: 'fence', attempts: 4 });
    expect(result.waitedMs).toBeCloseTo(25 + 40 + 64);
    expect(clock.sleeps.map(Math.round)).toEqual([25, 40, 64]);
    expect(waits.map((w) => w.attempt)).toEqual([1, 2, 3]);
    expect(waits[0]?.holder).toEqual(holder);
  });

  it('gives up at the deadline, after a last attempt there, naming the last holder', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const error = await pollForLock(
      async () => {
        calls++;
        return busy();
      },
      { key: 'advisory lock (1, 2) on public.mig_migrations', timeoutMs: 1_000, clock, backoff: { jitter: 0 } },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    const timeout = error as LockTimeoutError;
    expect(timeout.waitedMs).toBe(1_000);
    expect(timeout.holder).toEqual(holder);
    expect(timeout.message).toContain('advisory lock (1, 2) on public.mig_migrations');
    expect(timeout.message).toContain('backend pid 77');
    // The sleeps add up to exactly the timeout: the last one is cut short to land on the deadline.
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(1_000);
    expect(calls).toBe(clock.sleeps.length + 1);
  });

  it('makes exactly one attempt with a zero timeout', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const error = await pollForLock(
      async () => {
        calls++;
        return busy();
      },
      { key: 'k', timeoutMs: 0, clock },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(calls).toBe(1);
  });

  it('stops when its signal aborts, without another attempt', async () => {
    const controller = new AbortController();
    let calls = 0;
    const error = await pollForLock(
      async () => {
        calls++;
        if (calls === 2) controller.abort(new Error('request ended'));
        return busy();
      },
      { key: 'k', timeoutMs: 60_000, signal: controller.signal, backoff: { initialDelayMs: 1 } },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as Error).message).toContain('request ended');
    expect(calls).toBe(2);
  });

  it("looks again about when the holder should reach the waiter's count, at the pace it has kept", async () => {
    const clock = new FakeClock();
    // The holder applies one migration every 50 ms from t=0; the waiter is done at count 30, at t=1500.
    const head = () => ({ count: Math.floor(clock.now() / 50), digest: 'd' });
    const seen: number[] = [];
    await pollForLock(
      async () => {
        seen.push(clock.now());
        return head().count >= 30 ? { acquired: true, value: 'fence' } : { acquired: false, holder, head: head() };
      },
      { key: 'k', timeoutMs: 10_000, clock, backoff: { jitter: 0 }, doneAtCount: 30 },
    );
    // Backoff alone (25, 40, 64, 102, 164, 262, 419, 500, 500) looks at 1076, then first after 1500 at 1576;
    // the pace seen since the first change brings the last look in sooner, and never before the holder is done.
    const last = Math.max(...seen);
    expect(last).toBeGreaterThanOrEqual(1_500);
    expect(last).toBeLessThan(1_560);
    expect(clock.sleeps.every((ms) => ms <= 500)).toBe(true);
  });

  it('without a count to reach, a head seen changes nothing: the backoff rules', async () => {
    const clock = new FakeClock();
    let calls = 0;
    await pollForLock(
      async () =>
        ++calls < 4
          ? { acquired: false, holder, head: { count: calls * 5, digest: 'd' } }
          : { acquired: true, value: 'f' },
      { key: 'k', timeoutMs: 10_000, clock, backoff: { jitter: 0 } },
    );
    expect(clock.sleeps.map(Math.round)).toEqual([25, 40, 64]);
  });

  it('tells of the head a release notice carries before the next attempt, so the waiter can stop first', async () => {
    const clock = new FakeClock();
    const done = new AbortController();
    let attempts = 0;
    const error = await pollForLock(
      async () => {
        attempts++;
        return busy();
      },
      {
        key: 'k',
        timeoutMs: 10_000,
        clock,
        signal: done.signal,
        onWait: (w) => {
          if (w.head?.count === 3) done.abort('applied by another instance');
        },
        waitForChange: async () => ({ kind: 'released', head: { count: 3, digest: 'd' } }),
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(attempts).toBe(1);
  });
});
