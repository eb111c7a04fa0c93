import { describe, expect, it } from 'vitest';
import { describeBlocker, describeBlockers, lockRetryDelay, nextAttemptMs, queryStart } from '../src/table-lock.js';

describe('short lock attempts: the pure parts', () => {
  it('elides string literals (a password in a query never shows) and keeps the start of the query', () => {
    expect(queryStart("alter role app password 's3cret'")).toBe("alter role app password '…'");
    expect(queryStart("select * from t where a = E'x\\'y' and b = $$p@ss$$")).toBe(
      "select * from t where a = '…' and b = '…'",
    );
    expect(queryStart(`select ${'x, '.repeat(60)}1`)?.length).toBe(80);
    expect(queryStart(null)).toBeUndefined();
  });

  it('names a blocker as an operator reads it', () => {
    const blocker = {
      pid: 4242,
      application: 'long-report',
      state: 'idle in transaction',
      transactionMs: 7_000,
      query: 'select 1',
    };
    expect(describeBlocker(blocker)).toBe(
      'pid 4242 (long-report, idle in transaction, transaction open 7 s: "select 1")',
    );
    expect(describeBlocker({ pid: 7 })).toBe('pid 7');
    expect(describeBlockers([blocker, { pid: 7 }])).toMatch(/^waiting for pid 4242 \(.*\) and pid 7$/);
    expect(describeBlockers([])).toContain('gone before mig could name it');
  });

  it('backs off from 100 ms to 2 s with jitter, and never past the budget', () => {
    expect([1, 2, 3, 10].map((n) => lockRetryDelay(n, () => 1))).toEqual([100, 200, 400, 2_000]);
    expect(lockRetryDelay(1, () => 0)).toBe(50);
    expect(nextAttemptMs(1_000, 30_000, 0)).toBe(1_000);
    expect(nextAttemptMs(1_000, 30_000, 29_500)).toBe(500);
    expect(nextAttemptMs(0, 30_000, 10_000)).toBe(20_000);
    expect(nextAttemptMs(1_000, 0, 1e9)).toBe(1_000);
  });
});
