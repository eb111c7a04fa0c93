import { hasAuthority } from '@mig/core/adapter';
import { isSecretName, MASK, redactString } from './internal/redact.js';

/**
 * A connection string safe to log: the password becomes `***`, and so does every secret-looking query
 * parameter (`password`, `sslpassword`, `token`, `secret`, `api_key`, ...). Input that does not parse as a URL
 * (an unencoded `@` or `/` in the password, a libpq `key=value` string) is masked by pattern instead, erring on
 * the side of hiding too much: everything between the user name and the last `@` goes.
 *
 * @example
 * ```ts
 * redactUrl('postgres://app:s3cret@db:5432/app?sslpassword=x&sslmode=require');
 * // 'postgres://app:***@db:5432/app?sslpassword=***&sslmode=require'
 * ```
 */
export function redactUrl(url: string): string {
  const text = url.trim();
  if (hasAuthority(text)) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(text);
    } catch {
      // unparsable: fall through to the pattern below
    }
    if (parsed) {
      if (parsed.password) parsed.password = MASK;
      const params = [...parsed.searchParams];
      if (params.some(([name]) => isSecretName(name))) {
        // Rebuilt rather than set() one by one, so repeated parameters stay in their order.
        parsed.search = new URLSearchParams(
          params.map(([name, value]): [string, string] => [name, isSecretName(name) ? MASK : value]),
        ).toString();
      }
      return parsed.href;
    }
  }
  return redactString(text);
}
