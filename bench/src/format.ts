/** Human units for durations given in milliseconds: ns below 1 µs, µs below 1 ms, s from 10 s. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const abs = Math.abs(ms);
  if (abs < 0.001) return `${round(ms * 1e6)} ns`;
  if (abs < 1) return `${round(ms * 1e3)} µs`;
  if (abs < 10_000) return `${round(ms)} ms`;
  return `${round(ms / 1000)} s`;
}

/** Three significant figures, without trailing noise: 0.123, 1.23, 12.3, 123, 1234. */
function round(x: number): string {
  const abs = Math.abs(x);
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  if (abs >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  return r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`;
}

/** Statements per call, as counted on the pg clients: whole numbers stay whole. */
export function formatStatements(n: number | null): string {
  if (n === null) return '';
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** A plain-text table with columns padded to their widest cell; numbers right-aligned. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => (r[i] ?? '') === '' || /^[-\d.,]/.test(r[i] ?? '')),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
