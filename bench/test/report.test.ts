import { describe, expect, it } from 'vitest';
import { formatDuration, formatRatio, textTable } from '../src/format.js';
import { seededRandom } from '../src/measure.js';
import { consoleSummary } from '../src/report/console.js';
import { markdownResults } from '../src/report/markdown.js';
import { BEGIN, END, spliceResults } from '../src/report/readme.js';
import { decades, logLogChart } from '../src/report/svg.js';
import { ratio, summarize } from '../src/stats.js';
import type { BenchReport } from '../src/types.js';

describe('summarize', () => {
  it('gives the median of odd and even sample counts, and min, max, mean', () => {
    expect(summarize([3, 1, 2])).toEqual({ n: 3, median: 2, min: 1, max: 3, mean: 2 });
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
  });

  it('does not reorder the caller’s samples', () => {
    const samples = [3, 1, 2];
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it('refuses an empty set', () => {
    expect(() => summarize([])).toThrow(RangeError);
  });

  it('compares medians', () => {
    expect(ratio(summarize([2, 2, 100]), summarize([1, 1, 1]))).toBe(2);
  });
});

describe('formatting', () => {
  it('picks a unit by magnitude', () => {
    expect(formatDuration(0.0000425)).toBe('42.5 ns');
    expect(formatDuration(0.2061)).toBe('206 µs');
    expect(formatDuration(4.713)).toBe('4.71 ms');
    expect(formatDuration(61_234)).toBe('61.2 s');
    expect(formatRatio(1.234)).toBe('1.23x');
    expect(formatRatio(123.4)).toBe('123x');
  });

  it('pads table columns and right-aligns numeric ones', () => {
    const table = textTable(
      ['name', 'time'],
      [
        ['a', '1 ms'],
        ['long name', '10 ms'],
      ],
    );
    expect(table.split('\n')).toEqual(['name        time', '---------  -----', 'a           1 ms', 'long name  10 ms']);
  });
});

describe('logLogChart', () => {
  it('spans whole decades', () => {
    expect(decades(10, 10_000)).toEqual([1, 4]);
    expect(decades(0.15, 0.2)).toEqual([-1, 0]);
    expect(() => decades(0, 1)).toThrow(RangeError);
  });

  it('draws one path per series and escapes text', () => {
    const svg = logLogChart({
      title: 'a <b> & "c"',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          label: 'one',
          color: '#000',
          points: [
            { x: 10, median: 0.2, min: 0.1, max: 0.3 },
            { x: 1000, median: 0.2, min: 0.1, max: 0.4 },
          ],
        },
        { label: 'two', color: '#f00', points: [{ x: 10, median: 5, min: 4, max: 6 }] },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
    expect(svg).not.toContain('NaN');
  });
});

describe('spliceResults', () => {
  it('replaces the generated block and keeps the prose around it', () => {
    const readme = `# Title\n\nintro\n\n${BEGIN}\nold\n${END}\n\nafter\n`;
    const next = spliceResults(readme, 'new figures');
    expect(next).toContain('intro');
    expect(next).toContain('after');
    expect(next).toContain('new figures');
    expect(next).not.toContain('old');
    expect(spliceResults(next, 'newer')).toBe(spliceResults(readme, 'newer'));
  });

  it('appends the block when the markers are missing', () => {
    expect(spliceResults('# Title\n', 'figures')).toBe(`# Title\n\n${BEGIN}\n\nfigures\n\n${END}\n`);
  });
});

describe('seededRandom', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const values = Array.from({ length: 1_000 }, () => a());
    expect(values).toEqual(Array.from({ length: 1_000 }, () => b()));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
  });
});

describe('targets in the report', () => {
  const report: BenchReport = {
    mode: 'full',
    date: '2026-12-08T00:00:00.000Z',
    elapsedMs: 1000,
    machine: {
      cpuModel: 'cpu',
      cores: 2,
      memoryGiB: 24,
      loadAverage: [1, 1, 1],
      os: 'linux',
      node: 'v20',
      postgres: '15',
      versions: { kysely: '0.28' },
    },
    scenarios: [
      {
        id: '5',
        title: 'full apply',
        unit: 'time per run',
        rows: [{ label: 'mig', tool: 'mig', summary: summarize([2]), statements: 8 }],
        comparisons: [],
        targets: [
          { target: 'missed one', met: false, detail: '2 ms vs 1 ms', why: 'four statements more' },
          { target: 'met one', met: true, detail: '1 ms', why: 'never shown' },
        ],
        notes: [],
        elapsedMs: 1,
      },
    ],
    reruns: [{ id: '5', date: '2026-12-08T01:00:00.000Z', loadAverage: [0.5, 0.4, 0.3] }],
  };

  it('says why a missed goal is missed, beside its figures, and nothing of the kind for a met one', () => {
    for (const text of [markdownResults(report, undefined), consoleSummary(report)]) {
      expect(text).toContain('2 ms vs 1 ms. Why: four statements more');
      expect(text).not.toContain('never shown');
    }
  });

  it('says which scenarios were run again, and when', () => {
    expect(markdownResults(report, undefined)).toContain(
      'Scenario 5 was run again on its own (`--rerun 5`) at **2026-12-08T01:00:00.000Z**',
    );
  });
});
