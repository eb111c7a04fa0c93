// Database URLs as text: their scheme, and the secrets in them and in any message that quotes one. Every
// package reads a scheme and masks a password through these, so none of them disagrees with another.

/** The scheme of a URL-like text, lowercase (`postgres` of `postgres://…`, `sqlite` of `sqlite:./app.db`), or undefined. */
export function urlScheme(text: string): string | undefined {
  return /^\s*([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
}

/** The text starts with `scheme://` (a URL with an authority: user, password, host). */
export function hasAuthority(text: string): boolean {
  return /^\s*[a-z][a-z0-9+.-]*:\/\//i.test(text);
}

/**
 * Names of query parameters, libpq keywords and object keys whose value is a secret: password, sslpassword,
 * passwd, pwd, token, secret, client_secret, api key, private key, credentials, auth, signature.
 */
const SECRET_WORDS = 'pass|pwd|secret|token|api[-_]?key|private[-_]?key|credential|auth|signature';
const SECRET_NAME = new RegExp(SECRET_WORDS, 'i');

/** A parameter or key of this name holds a secret. */
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

/**
 * Masks credentials in free text (an error message, a URL that does not parse) with `***`: the password of
 * anything URL-like (`scheme://user:password@host`), and values of secret-looking parameters
 * (`password=…`, `sslpassword=…`, `"token": "…"`).
 */
export function redactCredentials(text: string): string {
  return text.replace(URL_USERINFO, '$1$2:***@').replace(SECRET_PAIR, '$1***');
}
