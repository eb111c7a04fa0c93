import { STATUS_LABELS } from '../scenarios/status-check.js';
import type { BenchReport, Row } from '../types.js';
import { type ChartSeries, logLogChart } from './svg.js';

/** Scenario 3's chart: check time against applied migrations, for mig, Kysely and SELECT 1. */
export function statusCheckChart(report: BenchReport): string | undefined {
  const scenario = report.scenarios.find((s) => s.id === '3');
  if (!scenario) return undefined;
  const series = (label: string, name: string, color: string): ChartSeries => ({
    label: name,
    color,
    points: scenario.rows
      .filter((r): r is Row & { param: number } => r.label === label && r.param !== undefined)
      .map((r) => ({ x: r.param, median: r.summary.median, min: r.summary.min, max: r.summary.max })),
  });
  const m = report.machine;
  return logLogChart({
    title: 'Uncached "is the database up to date?" check',
    subtitle: `${report.mode} run ${report.date.slice(0, 10)} · ${m.cpuModel}, ${m.cores} cores · Node ${m.node} · PostgreSQL ${m.postgres.split(' ')[0]} · kysely ${m.versions.kysely}`,
    xLabel: 'applied migrations (log scale)',
    yLabel: 'time per check, median with min–max (log scale)',
    series: [
      series(STATUS_LABELS.kysely, 'Kysely migrateToLatest() (no-op)', '#dc2626'),
      series(STATUS_LABELS.mig, 'mig migrator.status()', '#2563eb'),
      { ...series(STATUS_LABELS.select1, 'SELECT 1 round trip (pg)', '#6b7280'), labelsBelow: true },
    ],
  });
}
