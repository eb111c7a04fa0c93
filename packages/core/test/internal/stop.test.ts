import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { AbortedError, LockLostError, MigErrorCode } from '../../src/errors.js';
import { migrationStop, untilStopped } from '../../src/internal/stop.js';

/** Time that moves only when the test says: waits (sleep and schedule) end when it passes them. */
class ManualClock implements Clock {
  time = 0;
  #waits: { at: number; done: () => void }[] = [];

  now = () => this.time;
  epochNow = () => this.time;

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortedError('Stopped waiting', signal.reason));
      const wait = { at: this.time + ms, done: resolve };
      this.#waits.push(wait);
      signal?.addEventListener('abort', () => {
        this.#waits = this.#waits.filter((w) => w !== wait);
        reject(new AbortedError('Stopped waiting', signal.reason));
      });
    });
  }

  schedule(ms: number, fn: () => void): () => void {
    const wait = { at: this.time + ms, done: fn };
    this.#waits.push(wait);
    return () => {
      this.#waits = this.#waits.filter((w) => w !== wait);
    };
  }

  /** Moves time on, ending every wait it passes; then lets the promises that follow run. */
  async advance(ms: number): Promise<void> {
    this.time += ms;
    const due = this.#waits.filter((w) => w.at <= this.time);
    this.#waits = this.#waits.filter((w) => w.at > this.time);
    for (const wait of due) wait.done();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

const never = () => new Promise<never>(() => {});

describe('migrationStop', () => {
  it('aborts with MIGRATION_TIMEOUT naming the migration once its timeout passed, not before', async () => {
    const clock = new ManualClock();
    const stop = migrationStop('002_slow', true, { timeoutMs: 2_000 }, clock);
    await clock.advance(1_999);
    expect(stop.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(stop.signal.reason).toMatchObject({ code: MigErrorCode.MigrationTimeout, migration: '002_slow' });
    expect(String(stop.signal.reason.message)).toMatch(
      /^Migration "002_slow" ran longer than the migration timeout of 2 s/,
    );
  });

  it('aborts with an interrupted error when interrupted, and with the lock loss as it is when the lock is lost', () => {
    const clock = new ManualClock();
    const interrupt = new AbortController();
    const stopped = migrationStop('002_slow', false, { interrupt: interrupt.signal }, clock);
    interrupt.abort(new Error('stopped by SIGTERM'));
    expect(stopped.signal.reason).toMatchObject({ code: MigErrorCode.Aborted, migration: '002_slow' });
    expect(String(stopped.signal.reason.message)).toContain('(stopped by SIGTERM)');
    expect(String(stopped.signal.reason.message)).toContain('what it did before it was stopped remains');
    const lost = new AbortController();
    const loss = new LockLostError('lease lock on public.mig_migrations', 'lease token 4 expired', 'expired');
    const onLost = migrationStop('002_slow', true, { lost: lost.signal }, clock);
    lost.abort(loss);
    expect(onLost.signal.reason).toBe(loss);
  });

  it('is never aborted by a timeout once disposed', async () => {
    const clock = new ManualClock();
    const stop = migrationStop('002_slow', true, { timeoutMs: 1_000 }, clock);
    stop.dispose();
    await clock.advance(5_000);
    expect(stop.signal.aborted).toBe(false);
  });
});

describe('untilStopped', () => {
  it('settles as the work does when nothing stops it', async () => {
    const clock = new ManualClock();
    await expect(untilStopped(Promise.resolve('head'), new AbortController().signal, clock)).resolves.toBe('head');
    const failed = Promise.reject(new Error('syntax error'));
    await expect(untilStopped(failed, new AbortController().signal, clock)).rejects.toThrow('syntax error');
  });

  it('after a stop, still takes a result that comes within the settling time: a commit that made it counts', async () => {
    const clock = new ManualClock();
    const stop = new AbortController();
    let commit!: (head: string) => void;
    const work = new Promise<string>((resolve) => {
      commit = resolve;
    });
    const waiting = untilStopped(work, stop.signal, clock);
    stop.abort(new Error('timed out'));
    await clock.advance(500);
    commit('head after 002');
    await expect(waiting).resolves.toBe('head after 002');
  });

  it('gives up on work that never settles, with the stop reason, once the settling time passed', async () => {
    const clock = new ManualClock();
    const stop = new AbortController();
    const reason = new Error('timed out');
    const waiting = untilStopped(never(), stop.signal, clock);
    let outcome: unknown;
    waiting.catch((error: unknown) => {
      outcome = error;
    });
    stop.abort(reason);
    await clock.advance(1_999);
    expect(outcome).toBeUndefined();
    await clock.advance(1);
    expect(outcome).toBe(reason);
  });

  it('reports the stop, not the error the ended session raised, when the work fails after the stop', async () => {
    const clock = new ManualClock();
    const stop = new AbortController();
    let fail!: (error: Error) => void;
    const work = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const waiting = untilStopped(work, stop.signal, clock);
    const reason = new Error('stopped by SIGTERM');
    stop.abort(reason);
    fail(new Error('terminating connection due to administrator command'));
    await expect(waiting).rejects.toBe(reason);
  });
});
