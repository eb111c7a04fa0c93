// Bounded waits: every wait in mig has an end (a caller's signal, or a timeout on the injected clock).
import type { Clock } from '../clock.js';
import { AbortedError, MigError, MigErrorCode } from '../errors.js';

/** The shared initialization, with this caller's own signal able to end this caller's wait. */
export function boundByCaller<T>(shared: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return shared;
  if (signal.aborted) return Promise.reject(new AbortedError('Stopped waiting for the database', signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError('Stopped waiting for the database', signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    shared.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** `work`, or a Store error if it takes longer than `ms` (the work itself goes on; its result is dropped). */
export function bounded<T>(work: Promise<T>, ms: number, what: string, clock: Clock): Promise<T> {
  let cancel = () => {};
  const timeout = new Promise<never>((_, reject) => {
    cancel = clock.schedule(ms, () =>
      reject(
        new MigError(MigErrorCode.Store, `${what} did not answer within ${ms} ms; is the database reachable?`, {
          context: { timeoutMs: ms },
        }),
      ),
    );
  });
  return Promise.race([work, timeout]).finally(() => cancel());
}

/**
 * Waits for `work` to settle (either way), at most `ms`: true when it did. A wait that someone awaits: its
 * timer keeps the process alive.
 */
export async function settledWithin(work: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  const cancel = new AbortController();
  const settled = work.then(
    () => true,
    () => true,
  );
  const late = clock.sleep(ms, cancel.signal).then(
    () => false,
    () => false,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    cancel.abort();
  }
}
