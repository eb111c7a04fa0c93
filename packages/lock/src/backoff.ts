/** How long to wait between two attempts at a busy lock. */
export interface BackoffOptions {
  /** Wait after the first failed attempt. Default 25 ms. */
  readonly initialDelayMs?: number | undefined;
  /** Longest wait between attempts; also bounds how late a waiter notices a release. Default 500 ms. */
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
