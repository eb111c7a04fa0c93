export { createLeaseLock, type LeaseLockOptions } from './lease-lock.js';
export { createLocalLock, Mutex, processMutex, withProcessMutex } from './mutex.js';
export { deadOwnerPid, processOwner } from './owner.js';
export { type PollOptions, type PollResult, pollForLock } from './poll.js';
export { createSessionLock, type SessionLockOptions } from './session-lock.js';
