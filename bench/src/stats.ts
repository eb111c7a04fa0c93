/** Median, min and max of a set of timings: the figures every scenario reports. */
export interface Summary {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * Summarizes samples (any unit; the bench uses milliseconds). The median, not the mean, is the headline
 * figure: on a shared, noisy machine a few samples are hit by someone else's work, and the median ignores them.
 */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('summarize() needs at least one sample');
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[middle] as number)
      : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  const sum = sorted.reduce((total, x) => total + x, 0);
  return {
    n: sorted.length,
    median,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    mean: sum / sorted.length,
  };
}

/** `a` over `b`, by medians: 2 means `a` takes twice as long. */
export function ratio(a: Summary, b: Summary): number {
  return a.median / b.median;
}
