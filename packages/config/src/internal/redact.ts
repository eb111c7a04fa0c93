/** Masking shared by `redactUrl`, problem values and file error messages. */
import { hasAuthority, isSecretName, redactCredentials } from '@mig/core/adapter';

export { isSecretName };

export const MASK = '***';

/** Masks anything that looks like credentials in free text (error messages, unparsable URLs). */
export const redactText: (text: string) => string = redactCredentials;

/** Like {@link redactText}, and a lone `user:password@host` (no scheme) loses everything from ":" to the last "@". */
export function redactString(text: string): string {
  return redactText(hasAuthority(text) ? text : maskBareUserinfo(text));
}

function maskBareUserinfo(text: string): string {
  const at = text.lastIndexOf('@');
  const colon = text.indexOf(':');
  if (at <= 0 || colon < 0 || colon > at || /\s/.test(text.slice(0, at).trim())) return text;
  return `${text.slice(0, colon + 1)}${MASK}${text.slice(at)}`;
}

/**
 * A copy of `value` safe to show: strings redacted, values under secret-looking keys masked, depth bounded.
 * Used for the `value` of every reported problem, so a URL or an object given where something else belongs
 * cannot carry a password out.
 */
export function maskValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 3) return Array.isArray(value) ? '[array]' : '[object]';
  if (Array.isArray(value)) return value.map((item) => maskValue(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = isSecretName(key) && item !== undefined && item !== null ? MASK : maskValue(item, depth + 1);
  }
  return copy;
}
