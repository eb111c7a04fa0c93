// The connector: the service's first connection, retried with backoff. It knows nothing of migrations; it
// retries `connect` within a number of failed attempts and a time budget, as TanStack's retryer retries a
// query function, and a failure the server will get over by itself does not use up an attempt.
import type { Tracer } from '@opentelemetry/api';
import { type BackoffOptions, backoffDelay, type Clock } from '../clock.js';
import { ConnectionError, describeThrown } from '../errors.js';
import type { Logger } from '../ports.js';
import { Attr, errorType, SpanName, withSpan } from '../telemetry.js';
import { redactCredentials } from '../url.js';

/** Between connection attempts: from 200 ms, doubling, at most 5 s, with jitter so instances spread out. */
export const CONNECT_BACKOFF = Object.freeze({ initialDelayMs: 200, maxDelayMs: 5_000, factor: 2, jitter: 0.3 });

export interface ConnectorOptions<Conn> {
  /** One attempt; `signal` aborts when the attempt's time is up or the connector is stopped. */
  readonly connect: (signal: AbortSignal) => Promise<Conn>;
  /** Failed attempts (transient ones not counted) before giving up; at least 1. */
  readonly attempts: number;
  /** Longest wait for one attempt. */
  readonly timeoutMs: number;
  /** Longest time connecting may take, transient retries and pauses included. */
  readonly budgetMs: number;
  /** A failure that passes by itself (too many clients, the server starting): retried without using an attempt. */
  readonly isTransient?: ((error: unknown) => boolean) | undefined;
  /** Stops the wait (the service's `close()`): the attempt in flight is dropped, and no other starts. */
  readonly stop: AbortSignal;
  /** How to name the database in messages, without secrets. */
  readonly target: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly tracer: Tracer;
  /** The pauses between attempts; default {@link CONNECT_BACKOFF}. */
  readonly backoff?: BackoffOptions | undefined;
}

/**
 * Connects within `attempts` failures and the budget, in one `mig.connect` span with an event per failed
 * attempt. Fails with a `ConnectionError` (CONNECT_FAILED) naming the attempts and the time it took, or with
 * the stop signal's reason.
 */
export class Connector<Conn> {
  readonly #options: Readonly<ConnectorOptions<Conn>>;

  constructor(options: ConnectorOptions<Conn>) {
    this.#options = Object.freeze({ ...options, attempts: Math.max(1, options.attempts) });
  }

  connect(): Promise<Conn> {
    const { tracer, clock, stop, attempts, budgetMs, timeoutMs } = this.#options;
    return withSpan(tracer, SpanName.Connect, {}, async (span) => {
      const started = clock.now();
      let failures = 0;
      for (let tries = 1; ; tries++) {
        if (stop.aborted) throw stop.reason;
        const left = budgetMs - (clock.now() - started);
        const signal = AbortSignal.any([stop, AbortSignal.timeout(Math.max(1, Math.ceil(Math.min(timeoutMs, left))))]);
        try {
          return await this.#attempt(signal);
        } catch (error) {
          const transient = this.#options.isTransient?.(error) === true;
          if (!transient) failures++;
          span.addEvent('mig.connect.failed', { attempt: tries, transient, [Attr.ErrorType]: errorType(error) });
          const elapsed = clock.now() - started;
          this.#report(error, tries, failures, transient);
          if (failures >= attempts || elapsed >= budgetMs) {
            throw new ConnectionError(this.#options.target, tries, elapsed, error);
          }
          const delay = backoffDelay(tries, this.#options.backoff ?? CONNECT_BACKOFF);
          await clock.sleep(Math.min(delay, Math.max(0, budgetMs - elapsed)), stop);
        }
      }
    });
  }

  #report(error: unknown, tries: number, failures: number, transient: boolean): void {
    const { target, attempts } = this.#options;
    this.#options.logger.warn(
      { target, attempt: tries, transient, err: redactCredentials(describeThrown(error)) },
      transient
        ? `connecting to ${target} failed for now (attempt ${tries}); retrying`
        : `connecting to ${target} failed (attempt ${failures} of ${attempts})`,
    );
  }

  /**
   * One attempt, bounded by its signal even if `connect` ignores it. A result that arrives late is left
   * alone: `connect` often returns one shared client (closing it would break every later attempt), and a
   * `connect` that opens something per attempt cleans it up when its signal aborts.
   */
  async #attempt(signal: AbortSignal): Promise<Conn> {
    const { stop, timeoutMs } = this.#options;
    const connecting = this.#options.connect(signal);
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () =>
        reject(stop.aborted ? stop.reason : new Error(`no connection within the connect timeout of ${timeoutMs} ms`));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    connecting.catch(() => {
      // A late failure after the timeout was already reported as the timeout.
    });
    return Promise.race([connecting, aborted]);
  }
}
