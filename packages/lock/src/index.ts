export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { type LockClock, systemClock } from './clock.js';
export { createLeaseLock, DEFAULT_LEASE_TTL_MS, type LeaseLockOptions } from './lease-lock.js';
export { createLocalLock, Mutex, processMutex, withProcessMutex } from './mutex.js';
export { type PollOptions, type PollResult, pollForLock } from './poll.js';
export { createSessionLock, type SessionLockOptions } from './session-lock.js';
