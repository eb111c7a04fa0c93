import { formatDuration } from '../format.js';

export interface ChartPoint {
  readonly x: number;
  /** Milliseconds. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly points: readonly ChartPoint[];
  /** Value labels under the points instead of over them, where two series run close together. */
  readonly labelsBelow?: boolean | undefined;
}

export interface ChartOptions {
  readonly title: string;
  readonly subtitle?: string | undefined;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  readonly width?: number | undefined;
  readonly height?: number | undefined;
}

const MARGIN = { top: 64, right: 72, bottom: 56, left: 84 };

/**
 * A log-log line chart as a standalone SVG: medians joined by lines, min–max as whiskers. Log scales on
 * both axes because the point of the chart is a flat line next to one that grows by orders of magnitude.
 */
export function logLogChart(options: ChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 440;
  const points = options.series.flatMap((s) => s.points);
  if (points.length === 0) throw new RangeError('a chart needs at least one point');
  const xs = points.map((p) => p.x);
  const ys = points.flatMap((p) => [p.min, p.max, p.median]).filter((y) => y > 0);
  const xDomain = decades(Math.min(...xs), Math.max(...xs));
  const yDomain = decades(Math.min(...ys), Math.max(...ys));
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + scale(x, xDomain) * plotW;
  const sy = (y: number) => MARGIN.top + (1 - scale(Math.max(y, 10 ** yDomain[0]), yDomain)) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="24" font-size="16" font-weight="600" fill="#111">${escapeXml(options.title)}</text>`,
  ];
  if (options.subtitle) {
    parts.push(`<text x="${MARGIN.left}" y="44" fill="#555">${escapeXml(options.subtitle)}</text>`);
  }
  // Grid and ticks: one line per decade, labelled in human units.
  for (let e = yDomain[0]; e <= yDomain[1]; e++) {
    const y = sy(10 ** e);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${f(y)}" y2="${f(y)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${f(y + 4)}" text-anchor="end" fill="#444">${escapeXml(formatDuration(10 ** e))}</text>`,
    );
  }
  for (let e = xDomain[0]; e <= xDomain[1]; e++) {
    const x = sx(10 ** e);
    parts.push(
      `<line x1="${f(x)}" x2="${f(x)}" y1="${MARGIN.top}" y2="${height - MARGIN.bottom}" stroke="#e5e5e5"/>`,
      `<text x="${f(x)}" y="${height - MARGIN.bottom + 18}" text-anchor="middle" fill="#444">${(10 ** e).toLocaleString('en')}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 14}" text-anchor="middle" fill="#222">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(options.yLabel)}</text>`,
  );
  options.series.forEach((s, index) => {
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    const path = sorted.map((p, i) => `${i === 0 ? 'M' : 'L'}${f(sx(p.x))},${f(sy(p.median))}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2.5"/>`);
    // Each series' whiskers a few pixels to the side, so overlapping ranges stay readable.
    const dx = (index - (options.series.length - 1) / 2) * 7;
    for (const p of sorted) {
      const x = sx(p.x);
      const w = x + dx;
      parts.push(
        `<line x1="${f(w)}" x2="${f(w)}" y1="${f(sy(p.min))}" y2="${f(sy(p.max))}" stroke="${s.color}" stroke-width="1.2"/>`,
        `<line x1="${f(w - 4)}" x2="${f(w + 4)}" y1="${f(sy(p.min))}" y2="${f(sy(p.min))}" stroke="${s.color}"/>`,
        `<line x1="${f(w - 4)}" x2="${f(w + 4)}" y1="${f(sy(p.max))}" y2="${f(sy(p.max))}" stroke="${s.color}"/>`,
        `<circle cx="${f(x)}" cy="${f(sy(p.median))}" r="4" fill="${s.color}"><title>${escapeXml(`${s.label}, ${p.x.toLocaleString('en')}: median ${formatDuration(p.median)} (min ${formatDuration(p.min)}, max ${formatDuration(p.max)})`)}</title></circle>`,
        `<text x="${f(x + 12)}" y="${f(sy(p.median) + (s.labelsBelow ? 15 : -6))}" fill="${s.color}" font-size="11">${escapeXml(formatDuration(p.median))}</text>`,
      );
    }
  });
  // Legend, top left inside the plot: the slowest series starts lowest there, at the fewest migrations.
  const legendX = MARGIN.left + 14;
  options.series.forEach((s, i) => {
    const y = MARGIN.top + 16 + i * 18;
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 22}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2.5"/>`,
      `<text x="${legendX + 28}" y="${y}" fill="#222">${escapeXml(s.label)}</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}

/** The whole decades around [lo, hi], as exponents: [floor(log10 lo), ceil(log10 hi)], at least one apart. */
export function decades(lo: number, hi: number): [number, number] {
  if (!(lo > 0) || !(hi > 0)) throw new RangeError(`log scales need positive values, got ${lo} and ${hi}`);
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  return [a, Math.max(b, a + 1)];
}

/** Position of `v` in a log domain given in exponents, 0..1. */
function scale(v: number, [a, b]: [number, number]): number {
  return (Math.log10(v) - a) / (b - a);
}

function f(n: number): string {
  return n.toFixed(1);
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
