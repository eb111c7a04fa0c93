/** Value parsing shared by the public parsers and the schemas; returns `undefined` instead of throwing. */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
// Units are lowercase only: "5M" could as well mean months.
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;

export const DURATION_HINT = 'use milliseconds or 500ms, 30s, 5m';
export const BOOLEAN_HINT = 'use true or false (also 1/0, yes/no, on/off)';

/**
 * Milliseconds from a number (a whole number of ms, any sign: bounds are the caller's business) or a string
 * (a bare whole number of ms, or a number with a unit ms/s/m/h; trimmed).
 */
export function toMilliseconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  const [, amount = '', unit] = match;
  // A bare number is milliseconds and must be whole: "1.5" could be meant as seconds.
  if (unit === undefined && amount.includes('.')) return undefined;
  const exact = Number(amount) * UNIT_MS[(unit ?? 'ms') as keyof typeof UNIT_MS];
  const ms = Math.round(exact);
  // "1.5s" is 1500 ms; "0.5ms" is no whole number of milliseconds. (Rounding absorbs float noise: 1.1*1000.)
  if (Math.abs(exact - ms) > 1e-6 || !Number.isSafeInteger(ms)) return undefined;
  return ms;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  return undefined;
}

/** The shortest exact spelling of a duration, for messages and docs: 0, 500ms, 30s, 5m, 24h. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [
    ['h', UNIT_MS.h],
    ['m', UNIT_MS.m],
    ['s', UNIT_MS.s],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A value as it appears in a message: strings quoted, long values cut. Callers mask secrets first. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // circular: say what it is rather than fail while reporting a problem
  }
  text ??= Array.isArray(value) ? 'an array' : 'an object';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
