import { AbortedError } from '@mig/core';
import type { Clock } from '@mig/core/adapter';

/** Virtual time: sleeps advance it at once; scheduled callbacks run when time is advanced past them. */
export class FakeClock implements Clock {
  time = 0;
  readonly sleeps: number[] = [];
  #scheduled: Array<{ at: number; fn: () => void }> = [];

  now(): number {
    return this.time;
  }

  epochNow(): number {
    return Date.UTC(2026, 0, 1) + this.time;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new AbortedError('Stopped waiting for the migration lock', signal.reason);
    this.sleeps.push(ms);
    await this.advance(ms);
  }

  schedule(ms: number, fn: () => void): () => void {
    const entry = { at: this.time + ms, fn };
    this.#scheduled.push(entry);
    return () => {
      this.#scheduled = this.#scheduled.filter((e) => e !== entry);
    };
  }

  /** Moves time forward, running due callbacks in order and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      const due = this.#scheduled.filter((e) => e.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#scheduled = this.#scheduled.filter((e) => e !== due);
      this.time = Math.max(this.time, due.at);
      due.fn();
      for (let i = 0; i < 20; i++) await Promise.resolve();
    }
    this.time = end;
  }

  get pending(): number {
    return this.#scheduled.length;
  }
}
