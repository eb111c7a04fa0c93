import type { Clock } from '../../src/clock.js';
import { AbortedError } from '../../src/errors.js';

/** Virtual time: `sleep` moves it on at once (and records the wait); `schedule` runs when time passes it. */
export class FakeClock implements Clock {
  time = 0;
  readonly sleeps: number[] = [];
  #scheduled: { at: number; fn: () => void }[] = [];

  now(): number {
    return this.time;
  }

  epochNow(): number {
    return Date.UTC(2026, 0, 1) + this.time;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new AbortedError('Stopped waiting', signal.reason);
    this.sleeps.push(ms);
    this.advance(ms);
  }

  schedule(ms: number, fn: () => void): () => void {
    const entry = { at: this.time + ms, fn };
    this.#scheduled.push(entry);
    return () => {
      this.#scheduled = this.#scheduled.filter((e) => e !== entry);
    };
  }

  /** Moves time on by `ms`, running what was scheduled up to then, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.#scheduled.filter((e) => e.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#scheduled = this.#scheduled.filter((e) => e !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }
}
