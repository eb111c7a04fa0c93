import { randomUUID } from 'node:crypto';
import { describeLockContract } from '@mig/core/testing';
import { createLeaseLock, createLocalLock } from '../src/index.js';
import { MemoryLease } from './support/memory-lease.js';

// The lock contract of @mig/core/testing over the algorithms of this package. Their database primitives
// (advisory lock, lease row) run the same suite in @mig/kysely-adapter, with a store checking the fences.

describeLockContract('createLocalLock', {
  capabilities: { namesHolder: true, reportsWaits: false, losesLock: false },
  async open() {
    // A fresh key per case: the mutex behind it is shared by every lock with that key in this process.
    const key = `contract ${randomUUID()}`;
    return { createLock: () => createLocalLock(key), close: async () => {} };
  },
});

describeLockContract('createLeaseLock over an in-memory lease', {
  capabilities: { namesHolder: true, reportsWaits: true, losesLock: false },
  async open() {
    // One lease row shared by every instance, as one database row is shared by every process.
    const primitive = new MemoryLease(randomUUID());
    return { createLock: () => createLeaseLock(primitive, { ttlMs: 5_000 }), close: async () => {} };
  },
});
