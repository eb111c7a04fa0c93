import { describe, expect, it } from 'vitest';
import { summarize } from '../src/stats.js';
import type { ScenarioResult, TargetCheck } from '../src/types.js';
import { isFailedCheck, runFailures } from '../src/verdict.js';

function scenario(targets: TargetCheck[], rows = 1): ScenarioResult {
  return {
    id: '6',
    title: 'race',
    unit: 'wall time',
    rows: Array.from({ length: rows }, () => ({
      label: 'x',
      tool: 'mig' as const,
      summary: summarize([1]),
      statements: null,
    })),
    comparisons: [],
    targets,
    notes: [],
    elapsedMs: 1,
  };
}

describe('the run verdict', () => {
  it('fails on a correctness check that is not met, or that could not be told', () => {
    const check = (met: boolean | null): TargetCheck => ({
      target: 'exactly once',
      kind: 'correctness',
      met,
      detail: 'd',
    });
    expect(isFailedCheck(check(false))).toBe(true);
    expect(isFailedCheck(check(null))).toBe(true);
    expect(isFailedCheck(check(true))).toBe(false);
    expect(runFailures({ scenarios: [scenario([check(false)])] })).toEqual(['6. exactly once: d']);
  });

  it('never fails on a missed timing target', () => {
    const missed: TargetCheck[] = [
      { target: 'within 1.5x', met: false, detail: '2x' },
      { target: 'within 1.3x', kind: 'timing', met: false, detail: '2x' },
    ];
    expect(missed.some(isFailedCheck)).toBe(false);
    expect(runFailures({ scenarios: [scenario(missed)] })).toEqual([]);
  });

  it('fails on a scenario that did not run to completion', () => {
    expect(runFailures({ scenarios: [scenario([], 0)] })).toEqual(['6. race: did not run to completion']);
  });
});
