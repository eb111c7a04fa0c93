import type { Clock } from '../clock.js';
import { MigrationInterruptedError, MigrationTimeoutError } from '../errors.js';

/** How long a stopped migration's store may take to give up its work before the migrator stops waiting. */
const SETTLE_AFTER_STOP_MS = 2_000;

/** What can stop a migration while it runs. */
export interface StopSources {
  /** Longest run of one migration; none when undefined. */
  readonly timeoutMs?: number | undefined;
  /** A stop from outside (a signal, a shutdown): stops the running migration too. */
  readonly interrupt?: AbortSignal | undefined;
  /** The lock's `lost` signal: what runs under a lost lock cannot be recorded, so it stops. */
  readonly lost?: AbortSignal | undefined;
}

/** One migration's stop: its signal (for the store), and the end of its timer. */
export interface MigrationStop {
  readonly signal: AbortSignal;
  dispose(): void;
}

/**
 * The signal that stops one migration while it runs, with the error that says why: its timeout passed, it
 * was interrupted, or the lock was lost (that error as it is).
 */
export function migrationStop(name: string, transactional: boolean, sources: StopSources, clock: Clock): MigrationStop {
  const stop = new AbortController();
  const cleanups: (() => void)[] = [];
  const listen = (signal: AbortSignal | undefined, reason: () => unknown) => {
    if (!signal) return;
    const onAbort = () => stop.abort(reason());
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => signal.removeEventListener('abort', onAbort));
    }
  };
  listen(sources.lost, () => sources.lost?.reason);
  listen(sources.interrupt, () => new MigrationInterruptedError(name, sources.interrupt?.reason, transactional));
  const { timeoutMs } = sources;
  if (timeoutMs !== undefined && Number.isFinite(timeoutMs) && !stop.signal.aborted) {
    // A timer the run waits on: it keeps the process alive (a migration awaiting a promise that never settles
    // holds nothing that would).
    const cancel = new AbortController();
    clock.sleep(timeoutMs, cancel.signal).then(
      () => stop.abort(new MigrationTimeoutError(name, timeoutMs, transactional)),
      () => {},
    );
    cleanups.push(() => cancel.abort());
  }
  return {
    signal: stop.signal,
    dispose() {
      for (const cleanup of cleanups) cleanup();
    },
  };
}

/**
 * `work`, unless `signal` stops it first: then the store gets a moment to give its work up (or to finish:
 * a migration that committed before the stop counts as applied), after which the stop's reason is thrown
 * whatever `work` does (a migration awaiting a promise that never settles is left behind, its session ended).
 */
export function untilStopped<T>(work: Promise<T>, signal: AbortSignal, clock: Clock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const wait = new AbortController();
    const cancelWait = () => wait.abort();
    const onAbort = () => {
      // The store saw the signal too: wait a little for it to settle, then give up on it.
      clock.sleep(SETTLE_AFTER_STOP_MS, wait.signal).then(
        () => finish(() => reject(signal.reason)),
        () => {},
      );
    };
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      cancelWait();
      signal.removeEventListener('abort', onAbort);
      settle();
    };
    work.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(signal.aborted ? signal.reason : error)),
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
