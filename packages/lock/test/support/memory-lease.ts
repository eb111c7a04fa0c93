import type { LeaseGrant, LeasePrimitive, LockHolder, TryLockResult } from '@mig/core/adapter';

/**
 * The lease rules of a lock row, kept in memory on a real clock: what two processes sharing one database row
 * would see. Its fence is the grant's token, which grows with every grant.
 */
export class MemoryLease implements LeasePrimitive<number> {
  readonly strategy = 'lease';
  readonly key: string;
  readonly livesInStore = false;
  #row: { owner: string | null; token: number; acquiredAt: number; expiresAt: number } | undefined;

  constructor(key: string) {
    this.key = `memory lease ${key}`;
  }

  async tryAcquire(owner: string, ttlMs: number): Promise<TryLockResult<LeaseGrant<number>>> {
    const now = Date.now();
    const row = this.#row;
    if (row && row.expiresAt > now && row.owner !== owner) {
      return { acquired: false, holder: this.#holderOf(row) };
    }
    const token = (row?.token ?? 0) + 1;
    this.#row = { owner, token, acquiredAt: now, expiresAt: now + ttlMs };
    return { acquired: true, value: { token: String(token), expiresAt: new Date(now + ttlMs), fence: token } };
  }

  async renew(owner: string, token: string, ttlMs: number): Promise<Date | null> {
    const row = this.#row;
    const now = Date.now();
    if (!row || row.owner !== owner || String(row.token) !== token || row.expiresAt <= now) return null;
    row.expiresAt = now + ttlMs;
    return new Date(row.expiresAt);
  }

  async release(owner: string, token: string): Promise<void> {
    const row = this.#row;
    if (row?.owner === owner && String(row.token) === token) {
      this.#row = { ...row, owner: null, expiresAt: Date.now() };
    }
  }

  async holder(): Promise<LockHolder | null> {
    const row = this.#row;
    return row && row.expiresAt > Date.now() ? this.#holderOf(row) : null;
  }

  #holderOf(row: { owner: string | null; acquiredAt: number; expiresAt: number }): LockHolder | null {
    if (row.owner === null) return null;
    return { owner: row.owner, since: new Date(row.acquiredAt), expiresAt: new Date(row.expiresAt) };
  }
}
