import type { BenchReport, TargetCheck } from './types.js';

/** A correctness check (not a timing) that this run did not pass: `met` false, or unknown (null). */
export function isFailedCheck(target: TargetCheck): boolean {
  return target.kind === 'correctness' && target.met !== true;
}

/**
 * Why the run failed, one line per reason: a scenario that did not run to completion, or a correctness
 * check that did not pass. Missed timing targets are never a reason: they are reported, not asserted.
 */
export function runFailures(report: Pick<BenchReport, 'scenarios'>): string[] {
  return report.scenarios.flatMap((s) => [
    ...(s.rows.length === 0 ? [`${s.id}. ${s.title}: did not run to completion`] : []),
    ...s.targets.filter(isFailedCheck).map((t) => `${s.id}. ${t.target}: ${t.detail}`),
  ]);
}
