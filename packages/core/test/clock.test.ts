import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/clock.js';

describe('backoffDelay', () => {
  it('grows exponentially from the initial delay up to the cap', () => {
    const none = { jitter: 0 };
    expect(backoffDelay(1, none)).toBe(DEFAULT_BACKOFF.initialDelayMs);
    expect(backoffDelay(2, none)).toBeCloseTo(DEFAULT_BACKOFF.initialDelayMs * DEFAULT_BACKOFF.factor);
    expect(backoffDelay(50, none)).toBe(DEFAULT_BACKOFF.maxDelayMs);
  });

  it('takes up to the jitter fraction off each delay', () => {
    expect(backoffDelay(50, { jitter: 0.5, random: () => 0 })).toBe(500);
    expect(backoffDelay(50, { jitter: 0.5, random: () => 0.999999 })).toBeCloseTo(250, 3);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(10);
      expect(d).toBeGreaterThanOrEqual(DEFAULT_BACKOFF.maxDelayMs * 0.5 * 0.999);
      expect(d).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxDelayMs);
    }
  });
});
