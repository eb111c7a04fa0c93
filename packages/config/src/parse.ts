import { InvalidOptionError } from '@mig/core';
import { BOOLEAN_HINT, DURATION_HINT, showValue, toBoolean, toMilliseconds } from './internal/values.js';

/**
 * Parses a duration into milliseconds: a whole number of milliseconds (`500`, `"500"`), or a number with a
 * unit `ms`, `s`, `m` (minutes) or `h` (`"500ms"`, `"30s"`, `"1.5s"`, `"5m"`, `"1h"`). Surrounding spaces
 * are ignored. Anything else, negative values included, throws an `InvalidOptionError` (`@mig/core`, code
 * `INVALID_OPTION`) saying what is accepted; `option` names the setting in it.
 *
 * @example
 * ```ts
 * parseDuration('30s'); // 30000
 * parseDuration(250);   // 250
 * parseDuration(process.env.SHUTDOWN_GRACE ?? '10s', 'SHUTDOWN_GRACE');
 * ```
 */
export function parseDuration(text: string | number, option = 'duration'): number {
  const ms = toMilliseconds(text);
  if (ms === undefined || ms < 0) {
    throw new InvalidOptionError(option, `${showValue(text)} is not a duration; ${DURATION_HINT}`);
  }
  return ms;
}

/**
 * Parses a boolean: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, case-insensitive, spaces ignored.
 * Anything else throws an `InvalidOptionError` (`@mig/core`, code `INVALID_OPTION`) saying what is accepted;
 * `option` names the setting in it.
 *
 * @example
 * ```ts
 * parseBoolean(' Yes '); // true
 * ```
 */
export function parseBoolean(text: string | boolean, option = 'boolean'): boolean {
  const value = toBoolean(text);
  if (value === undefined) throw new InvalidOptionError(option, `${showValue(text)} is not a boolean; ${BOOLEAN_HINT}`);
  return value;
}
