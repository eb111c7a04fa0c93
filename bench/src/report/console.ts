import { formatDuration, formatRatio, formatStatements, textTable } from '../format.js';
import type { BenchReport, ScenarioResult } from '../types.js';
import { isFailedCheck } from '../verdict.js';

/** The summary printed at the end of a run: one table per scenario, then its ratios and targets. */
export function consoleSummary(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [
    '',
    `mig bench (${report.mode}) — ${report.date}`,
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; PostgreSQL ${m.postgres}; kysely ${m.versions.kysely}; load ${m.loadAverage.join(' ')}`,
  ];
  for (const s of report.scenarios) out.push('', scenarioText(s));
  const targets = report.scenarios.flatMap((s) => s.targets);
  const met = targets.filter((t) => t.met === true).length;
  const failed = targets.filter(isFailedCheck).length;
  out.push(
    '',
    `Targets met: ${met} of ${targets.length}${failed > 0 ? `; correctness checks FAILED: ${failed}` : ''}. Took ${formatDuration(report.elapsedMs)}.`,
    '',
  );
  return out.join('\n');
}

function scenarioText(s: ScenarioResult): string {
  const grouped = s.rows.some((r) => r.group !== undefined);
  const trips = hasRoundTrips(s);
  const header = [
    ...(grouped ? [''] : []),
    'variant',
    'median',
    'min',
    'max',
    'n',
    'stmts/call',
    ...(trips ? ['trips/call'] : []),
  ];
  const rows = s.rows.map((r) => [
    ...(grouped ? [r.group ?? ''] : []),
    r.label,
    formatDuration(r.summary.median),
    formatDuration(r.summary.min),
    formatDuration(r.summary.max),
    String(r.summary.n),
    formatStatements(r.statements),
    ...(trips ? [formatStatements(r.roundTrips ?? null)] : []),
  ]);
  const lines = [`${s.id}. ${s.title} (${s.unit})`, textTable(header, rows)];
  for (const c of s.comparisons)
    lines.push(`   ratio ${c.group ? `${c.group}, ` : ''}${c.label}: ${formatRatio(c.ratio)}`);
  for (const t of s.targets) {
    const verdict = isFailedCheck(t) ? 'FAILED' : t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED';
    lines.push(`   [${verdict}] ${t.target}: ${t.detail}${t.met === false && t.why ? `. Why: ${t.why}` : ''}`);
  }
  return lines.join('\n');
}

/** Whether any row of the scenario counted its round trips (the column is shown only then). */
export function hasRoundTrips(s: ScenarioResult): boolean {
  return s.rows.some((r) => r.roundTrips !== undefined && r.roundTrips !== null);
}
