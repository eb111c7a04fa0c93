import type { Logger, RunStops } from '@mig/core';
import { DEFAULT_STOP_GRACE_MS } from '@mig/core/adapter';

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

/**
 * Whether this runs in a process that gets signals: not in a Cloudflare Worker, whose `process` (nodejs_compat)
 * has listeners but no signal ever reaches an isolate.
 */
export function hasSignals(): boolean {
  const worker = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers';
  return !worker && typeof globalThis.process?.on === 'function';
}

/**
 * SIGTERM and SIGINT while a migration run holds the lock, and only then: a signal stops the run (no new
 * migration starts; the running one gets `graceMs`, then it is stopped and rolled back where the engine can)
 * and the lock is let go. The service does not take the process over: once the run let the lock go, the
 * signal is raised again, so the process ends as it would have (unless the application listens for it
 * itself, and decides). Outside a run, nothing listens.
 */
export function processStops(logger: Logger, graceMs = DEFAULT_STOP_GRACE_MS): () => RunStops {
  return () => {
    const stop = new AbortController();
    const interrupt = new AbortController();
    let received: NodeJS.Signals | undefined;
    let grace: NodeJS.Timeout | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received !== undefined) return;
      received = signal;
      logger.warn(
        { signal, graceMs },
        `${signal} while migrating: no new migration starts, the running one is stopped after ${graceMs} ms, and the lock is let go`,
      );
      stop.abort(new Error(`stopped by ${signal}`));
      grace = setTimeout(() => interrupt.abort(new Error(`stopped by ${signal}`)), graceMs);
      grace.unref();
    };
    for (const signal of SIGNALS) process.on(signal, onSignal);
    return {
      stop: stop.signal,
      interrupt: interrupt.signal,
      release() {
        for (const signal of SIGNALS) process.off(signal, onSignal);
        if (grace) clearTimeout(grace);
        // Nobody else listens: the signal's default action (ending the process) is what was asked for.
        if (received !== undefined && process.listenerCount(received) === 0) process.kill(process.pid, received);
      },
    };
  };
}
