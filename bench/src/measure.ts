import { summarize } from './stats.js';
import type { Row, Tool } from './types.js';

/** One thing being measured, in rounds that alternate with the other variants of its scenario. */
export interface Variant {
  readonly label: string;
  readonly tool: Tool;
  readonly group?: string | undefined;
  readonly param?: number | undefined;
  /** One round: the time of each call it made, in milliseconds (a batch reports its time per call). */
  round(): Promise<readonly number[]>;
  /** How many calls each returned sample stands for (a batch of 1e6 calls reports one sample). Default 1. */
  readonly callsPerSample?: number | undefined;
  /** Statements sent so far, read before and after each round to report statements per call. */
  readonly statements?: (() => number) | undefined;
  /** Round trips sent so far, read like `statements`. */
  readonly roundTrips?: (() => number) | undefined;
}

export interface InterleaveOptions {
  readonly rounds: number;
  /** Rounds run first and thrown away: JIT, module caches, connection pools, PostgreSQL's caches. */
  readonly warmup: number;
  /** Called after each measured round, for progress output. */
  readonly onRound?: ((round: number) => void) | undefined;
  /**
   * `alternate` (default): the order flips every round. `shuffle`: a new random order every round (seeded,
   * so a rerun uses the same orders), for many variants, where a fixed neighbour — a slow variant that leaves
   * garbage for the next one to collect — would otherwise always hit the same variant.
   */
  readonly order?: 'alternate' | 'shuffle' | undefined;
}

/**
 * Runs the variants' rounds interleaved: A B, B A, A B… rather than all of A then all of B, so a slow
 * patch of the machine (another job, a checkpoint) lands on every variant alike. The order flips each
 * round so neither variant always runs right after the other.
 */
export async function interleave(variants: readonly Variant[], options: InterleaveOptions): Promise<Row[]> {
  for (let w = 0; w < options.warmup; w++) {
    for (const v of variants) await v.round();
  }
  const samples = variants.map(() => [] as number[]);
  const statements = variants.map(() => 0);
  const roundTrips = variants.map(() => 0);
  const random = seededRandom(0x6d6967);
  for (let r = 0; r < options.rounds; r++) {
    const order = variants.map((_, i) => i);
    if (options.order === 'shuffle') shuffle(order, random);
    else if (r % 2 === 1) order.reverse();
    for (const i of order) {
      const v = variants[i] as Variant;
      const before = v.statements?.() ?? 0;
      const tripsBefore = v.roundTrips?.() ?? 0;
      const times = await v.round();
      statements[i] = (statements[i] as number) + (v.statements?.() ?? 0) - before;
      roundTrips[i] = (roundTrips[i] as number) + (v.roundTrips?.() ?? 0) - tripsBefore;
      (samples[i] as number[]).push(...times);
    }
    options.onRound?.(r);
  }
  return variants.map((v, i) => {
    const own = samples[i] as number[];
    const calls = own.length * (v.callsPerSample ?? 1);
    return {
      group: v.group,
      param: v.param,
      label: v.label,
      tool: v.tool,
      summary: summarize(own),
      statements: v.statements ? (statements[i] as number) / calls : null,
      roundTrips: v.roundTrips ? (roundTrips[i] as number) / calls : null,
    };
  });
}

/** Fisher–Yates, in place. */
function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

/** mulberry32: a small seeded generator, so the shuffled orders are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Times `calls` sequential awaited calls one by one. */
export async function timeEach(calls: number, fn: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times;
}

/** Times one awaited call. */
export async function timeOnce(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Lets other work run (timers, I/O callbacks) between rounds of a tight synchronous loop. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Where timed loops put their last result, so the compiler cannot drop the calls that produced it. */
export const sink: { value: unknown } = { value: undefined };
