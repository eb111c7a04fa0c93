import { AbortedError } from '@mig/core';

/** Time as the lock algorithms see it; injected in tests. */
export interface LockClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Resolves after `ms`; rejects with an AbortedError when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs `fn` after `ms` in the background; the timer never keeps the process alive. Returns a canceller. */
  schedule(ms: number, fn: () => void): () => void;
}

export const systemClock: LockClock = {
  now: () => performance.now(),
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new AbortedError('Stopped waiting for the migration lock', signal.reason));
        return;
      }
      // Not unref'd: somebody awaits this wait, and it must not end because the event loop looks idle
      // (a pool with allowExitOnIdle would let the process exit in the middle of a lock wait).
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(new AbortedError('Stopped waiting for the migration lock', signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
  schedule(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
