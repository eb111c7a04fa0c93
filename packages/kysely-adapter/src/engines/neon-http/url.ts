import { InvalidOptionError } from '@mig/core';

/** The scheme of a URL that means "Neon's serverless driver, over HTTP" (never WebSocket mode's `neon:`). */
export const NEON_HTTP_SCHEME = 'neon+https';

/**
 * Reads `neon+https://USER:PASSWORD@HOST/DATABASE[?…]`: a PostgreSQL URL whose scheme says "through Neon's
 * serverless driver, one HTTP request per query or transaction". Returns the connection string the driver
 * takes (`postgres://…`, parameters kept); the driver sends each request to Neon's SQL-over-HTTP endpoint of
 * that host. (`createNeonHttpDialect` also takes the plain `postgres://…` string Neon's console shows.)
 *
 * @example
 * readNeonHttpUrl('neon+https://app:secret@ep-cool-name.eu-central-1.aws.neon.tech/shop')
 * // 'postgres://app:secret@ep-cool-name.eu-central-1.aws.neon.tech/shop'
 */
export function readNeonHttpUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '';
  let parsed: URL;
  try {
    parsed = new URL(`postgres:${url.slice(scheme.length)}`);
  } catch (error) {
    throw new InvalidOptionError(
      'url',
      `The ${NEON_HTTP_SCHEME}:// URL does not parse: percent-encode special characters in the user name and ` +
        `password (@ as %40, : as %3A, / as %2F, # as %23), as in ${NEON_HTTP_SCHEME}://user:password@host/database.`,
      { cause: error, context: { reason: 'unparsable' } },
    );
  }
  if (parsed.hostname === '' || decodeURIComponent(parsed.pathname.replace(/^\//, '')) === '') {
    throw new InvalidOptionError(
      'url',
      `The ${NEON_HTTP_SCHEME}:// URL needs a host and a database, as in ` +
        `${NEON_HTTP_SCHEME}://user:password@ep-name.region.aws.neon.tech/DATABASE.`,
      { context: { reason: parsed.hostname === '' ? 'no-host' : 'no-database' } },
    );
  }
  return parsed.toString();
}
