// What ends the service's migration run, apart from the run itself: the service closing (a stop, then after a
// grace period an interrupt), the time budget of the call that started the run, and the edge's stops (its
// process signals). One run is shared by every caller waiting on it: one caller's signal ends only that
// caller's wait (see boundByCaller), never the run.
import type { Clock } from '../clock.js';
import { AbortedError } from '../errors.js';
import { settledWithin } from '../internal/bounds.js';
import type { Logger } from '../ports.js';
import type { RunStops } from './types.js';

export interface RunLimits {
  /** Stops the run: no new migration starts, a lock wait ends. */
  readonly signal: AbortSignal;
  /** Stops the running migration too. */
  readonly interrupt: AbortSignal;
  /** The lock wait, shortened to leave the migrations their minimum time within the budget. */
  readonly lockTimeoutMs: number | undefined;
  /** The run is over: the edge's stops stop listening. */
  release(): void;
}

export interface RunLimitSources {
  readonly closing: AbortSignal;
  readonly closed: AbortSignal;
  readonly stops: (() => RunStops) | undefined;
  readonly lockTimeoutMs: number | undefined;
  /** The budget's end on the service clock, if the call that started the run had one. */
  readonly deadline: number | undefined;
  readonly minMigrationTimeMs: number;
  readonly pending: number;
  readonly clock: Clock;
}

/** The limits of one migration run; throws when the budget leaves too little time to start migrating. */
export function runLimits(sources: RunLimitSources): RunLimits {
  const signals = [sources.closing];
  let { lockTimeoutMs } = sources;
  if (sources.deadline !== undefined) {
    const left = sources.deadline - sources.clock.now();
    const minTime = sources.minMigrationTimeMs;
    if (left < minTime) {
      throw new AbortedError(
        `Not starting ${sources.pending} pending migration(s) with ${Math.max(0, Math.round(left))} ms of the time budget left ` +
          `(at least ${minTime} ms needed); a call with more time will apply them`,
        'deadline too close',
      );
    }
    lockTimeoutMs = Math.min(lockTimeoutMs ?? Number.POSITIVE_INFINITY, left - minTime);
    signals.push(AbortSignal.timeout(Math.max(1, Math.floor(left))));
  }
  const outside = sources.stops?.();
  const interrupts = [sources.closed];
  if (outside) {
    signals.push(outside.stop);
    interrupts.push(outside.interrupt);
  }
  return {
    signal: AbortSignal.any(signals),
    interrupt: interrupts.length > 1 ? AbortSignal.any(interrupts) : sources.closed,
    lockTimeoutMs,
    release: () => outside?.release(),
  };
}

/** Waits for `work`; if it has not settled after `graceMs`, calls `expired` (and goes on waiting). */
export async function afterGrace(work: Promise<unknown>, graceMs: number, expired: () => void, clock: Clock) {
  // A timer that the caller waits on: it keeps the process alive.
  const grace = new AbortController();
  clock.sleep(graceMs, grace.signal).then(expired, () => {});
  try {
    await work;
  } finally {
    grace.abort();
  }
}

/** How long close() waits for the connection to close before it gives up on one a stopped migration holds. */
const DISCONNECT_WAIT_MS = 2_000;

/**
 * The connection closing, within a bound: a stopped migration that awaits something that never settles keeps
 * its (ended) connection checked out of the pool, which would make the close wait for ever.
 */
export async function disconnectWithin(disconnecting: Promise<void>, clock: Clock, logger: Logger): Promise<void> {
  if (await settledWithin(disconnecting, DISCONNECT_WAIT_MS, clock)) return;
  logger.warn(
    { waitedMs: DISCONNECT_WAIT_MS },
    'closing: a connection is still held by a stopped migration (its session was ended); not waiting for it',
  );
}
