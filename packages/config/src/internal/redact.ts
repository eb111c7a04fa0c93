/** Masking shared by `redactUrl`, problem values and file error messages. */

export const MASK = '***';

/**
 * Names of query parameters, libpq keywords and object keys whose value is a secret: password, sslpassword,
 * passwd, pwd, token, secret, client_secret, api key, private key, credentials, auth, signature.
 */
const SECRET_WORDS = 'pass|pwd|secret|token|api[-_]?key|private[-_]?key|credential|auth|signature';
const SECRET_NAME = new RegExp(SECRET_WORDS, 'i');

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

// `scheme://user:password@`: the password runs to the LAST "@" before a space, because unencoded "@", "/" or
// "#" in a password are exactly what makes such a string unparsable.
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s:/?#@]*):(\S*)@/gi;
// `password=...`, `?sslpassword=...`, `"token": "..."` in query strings, libpq keyword strings and messages. A
// colon only counts when a space or quote follows, so `user:***@host` (already masked) is left alone.
const SECRET_PAIR = new RegExp(
  `((?:^|[^a-z0-9])[a-z0-9_-]*(?:${SECRET_WORDS})[a-z0-9_-]*["']?\\s*(?:=|:(?=\\s|["']))\\s*)('[^']*'|"[^"]*"|[^\\s&;,'"]+)`,
  'gi',
);

/** Masks anything that looks like credentials in free text (error messages, unparsable URLs). */
export function redactText(text: string): string {
  return text.replace(URL_USERINFO, `$1$2:${MASK}@`).replace(SECRET_PAIR, `$1${MASK}`);
}

const HAS_SCHEME = /^\s*[a-z][a-z0-9+.-]*:\/\//i;

/** Like {@link redactText}, and a lone `user:password@host` (no scheme) loses everything from ":" to the last "@". */
export function redactString(text: string): string {
  return redactText(HAS_SCHEME.test(text) ? text : maskBareUserinfo(text));
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
