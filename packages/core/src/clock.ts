import { AbortedError } from './errors.js';

/** Time as mig sees it: one object, injected in tests, so nothing reads the system clock behind its back. */
export interface Clock {
  /** Milliseconds on a monotonic clock: durations, deadlines and TTLs. */
  now(): number;
  /** Milliseconds since the epoch: only for timestamps shown to people. */
  epochNow(): number;
  /** Resolves after `ms`; rejects with an `AbortedError` when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs `fn` after `ms` in the background; the timer never keeps the process alive. Returns a canceller. */
  schedule(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  epochNow: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new AbortedError('Stopped waiting', signal.reason));
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
        reject(new AbortedError('Stopped waiting', signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
  schedule(ms: number, fn: () => void): () => void {
    const timer = setTimeout(fn, ms);
    // A Worker's timers are numbers, with nothing to unref: its isolate does not wait for them.
    timer.unref?.();
    return () => clearTimeout(timer);
  },
});

/** How long to wait between two attempts: exponential, capped, with jitter. */
export interface BackoffOptions {
  /** Wait after the first failed attempt. Default 25 ms. */
  readonly initialDelayMs?: number | undefined;
  /** Longest wait between attempts. Default 500 ms. */
  readonly maxDelayMs?: number | undefined;
  /** Growth per attempt. Default 1.6. */
  readonly factor?: number | undefined;
  /** Fraction of each wait that is random, so waiters started together spread out. 0..1, default 0.5. */
  readonly jitter?: number | undefined;
  /** Source of randomness in [0, 1); injected in tests. */
  readonly random?: (() => number) | undefined;
}

export const DEFAULT_BACKOFF = Object.freeze({
  initialDelayMs: 25,
  maxDelayMs: 500,
  factor: 1.6,
  jitter: 0.5,
});

/** The wait after failed attempt number `attempt` (1-based): exponential, capped, with jitter taken off. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs;
  const max = options.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs;
  const factor = options.factor ?? DEFAULT_BACKOFF.factor;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? DEFAULT_BACKOFF.jitter));
  const base = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
  return base * (1 - jitter * (options.random ?? Math.random)());
}
