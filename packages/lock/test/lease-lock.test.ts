import { InvalidOptionError, LockLostError } from '@mig/core';
import type { LeaseGrant, LeasePrimitive, LockHolder, TryLockResult } from '@mig/core/adapter';
import { describe, expect, it } from 'vitest';
import { createLeaseLock } from '../src/index.js';
import { FakeClock } from './fake-clock.js';

/**
 * The lease rules on virtual time, to test the algorithm (heartbeat, loss, release). The SQL
 * implementation is tested against PostgreSQL in @mig/kysely-adapter.
 */
class MemoryLease implements LeasePrimitive<number> {
  readonly strategy = 'lease';
  readonly key = 'memory lease';
  readonly livesInStore = true;
  row: { owner: string | null; token: number; expiresAt: number } | undefined;
  renewals = 0;
  failRenewals = false;
  constructor(readonly clock: FakeClock) {}

  async tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<number>>> {
    const now = this.clock.now();
    if (!this.row || this.row.expiresAt <= now || this.row.owner === owner) {
      const token = (this.row?.token ?? 0) + 1;
      this.row = { owner, token, expiresAt: now + ttlMs };
      return { acquired: true, value: { token: String(token), expiresAt: new Date(now + ttlMs), fence: token } };
    }
    return { acquired: false, holder: { owner: this.row.owner ?? undefined } };
  }

  async renew(owner: string, token: string, ttlMs: number): Promise<Date | null> {
    this.renewals++;
    if (this.failRenewals) throw new Error('connection reset');
    const now = this.clock.now();
    if (!this.row || this.row.owner !== owner || String(this.row.token) !== token || this.row.expiresAt <= now)
      return null;
    this.row.expiresAt = now + ttlMs;
    return new Date(this.row.expiresAt);
  }

  async release(owner: string, token: string): Promise<void> {
    if (this.row?.owner === owner && String(this.row.token) === token) {
      this.row = { ...this.row, owner: null, expiresAt: this.clock.now() };
    }
  }

  async holder(): Promise<LockHolder | null> {
    return this.row?.owner ? { owner: this.row.owner } : null;
  }
}

describe('createLeaseLock', () => {
  it('renews while held, so the lease outlives its TTL, and frees it on release', async () => {
    const clock = new FakeClock();
    const primitive = new MemoryLease(clock);
    const lock = createLeaseLock(primitive, { ttlMs: 3_000, clock, owner: 'test' });
    const lease = await lock.acquire({ timeoutMs: 1_000 });
    expect(lease.fence).toBe(1);
    await clock.advance(10_000);
    expect(primitive.renewals).toBe(10);
    expect(lease.lost.aborted).toBe(false);
    expect(primitive.row?.expiresAt).toBeGreaterThan(clock.now());
    await lease.release();
    expect(primitive.row?.owner).toBeNull();
    expect(clock.pending).toBe(0);
  });

  it('grants a larger token to the next holder', async () => {
    const clock = new FakeClock();
    const primitive = new MemoryLease(clock);
    const lock = createLeaseLock(primitive, { ttlMs: 3_000, clock });
    const first = await lock.acquire({ timeoutMs: 0 });
    await first.release();
    const second = await lock.acquire({ timeoutMs: 0 });
    expect(second.fence).toBe(2);
    await second.release();
  });

  it('reports the lease lost when a renewal finds it taken over', async () => {
    const clock = new FakeClock();
    const primitive = new MemoryLease(clock);
    const lock = createLeaseLock(primitive, { ttlMs: 3_000, clock });
    const lease = await lock.acquire({ timeoutMs: 0 });
    if (primitive.row) primitive.row = { owner: 'someone else', token: 5, expiresAt: clock.now() + 3_000 };
    await clock.advance(1_000);
    expect(lease.lost.aborted).toBe(true);
    expect(lease.lost.reason).toBeInstanceOf(LockLostError);
    await lease.release();
    expect(primitive.row?.owner).toBe('someone else');
  });

  it('keeps retrying failed renewals and reports the lease lost once it has expired', async () => {
    const clock = new FakeClock();
    const primitive = new MemoryLease(clock);
    const lock = createLeaseLock(primitive, { ttlMs: 3_000, clock });
    const lease = await lock.acquire({ timeoutMs: 0 });
    primitive.failRenewals = true;
    await clock.advance(2_000);
    expect(lease.lost.aborted).toBe(false);
    await clock.advance(1_000);
    expect(lease.lost.aborted).toBe(true);
    expect((lease.lost.reason as Error).message).toContain('could not be renewed before it expired');
    await lease.release();
  });

  it('rejects a renewal interval that is not below the TTL', () => {
    const clock = new FakeClock();
    expect(() => createLeaseLock(new MemoryLease(clock), { ttlMs: 1_000, renewEveryMs: 1_000 })).toThrow(
      InvalidOptionError,
    );
  });
});
