import { InvalidOptionError } from '@mig/core';

/** How Neon's serverless driver reaches the database, as a `neon://` URL's parameters set it. */
export interface NeonSocketOptions {
  /**
   * The WebSocket proxy, without protocol: `HOST[:PORT][/PATH]`, to which the driver appends
   * `?address=HOST:PORT` of the database (Neon's `wsProxy`). Default: Neon's own proxy on the database host.
   */
  readonly wsProxy?: string | undefined;
  /** `wss:` (true, the default) or plain `ws:` to the proxy (Neon's `useSecureWebSocket`). */
  readonly useSecureWebSocket?: boolean | undefined;
  /**
   * `password` (the default) sends the startup, the password and the first query in one go; `false` waits for
   * the server at each step, as a server that does not ask for a cleartext password needs (Neon's `pipelineConnect`).
   */
  readonly pipelineConnect?: 'password' | false | undefined;
}

/** A `neon://` URL read: the PostgreSQL connection string the driver gets, and the WebSocket options. */
export interface NeonUrl {
  readonly connectionString: string;
  readonly socket: NeonSocketOptions;
}

/** The parameters of a `neon://` URL that configure the WebSocket, by their lowercase name. */
const SOCKET_PARAMETERS = ['wsproxy', 'usesecurewebsocket', 'pipelineconnect'] as const;

/**
 * Reads `neon://USER:PASSWORD@HOST[:PORT]/DATABASE[?wsProxy=…&useSecureWebSocket=false&pipelineConnect=false]`:
 * a PostgreSQL URL whose scheme says "through Neon's serverless driver, over a WebSocket". The socket
 * parameters (names as Neon's `neonConfig` spells them, any case) are taken out; the rest, `sslmode` included,
 * stays in the connection string.
 *
 * @example
 * readNeonUrl('neon://app:secret@ep-cool-name.eu-central-1.aws.neon.tech/shop?sslmode=require')
 * // { connectionString: 'postgres://app:secret@ep-cool-name.eu-central-1.aws.neon.tech/shop?sslmode=require', socket: {} }
 */
export function readNeonUrl(url: string): NeonUrl {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '';
  let parsed: URL;
  try {
    parsed = new URL(`postgres:${url.slice(scheme.length)}`);
  } catch (error) {
    throw new InvalidOptionError(
      'url',
      'The neon:// URL does not parse: percent-encode special characters in the user name and password ' +
        '(@ as %40, : as %3A, / as %2F, # as %23), as in neon://user:password@host/database.',
      { cause: error, context: { reason: 'unparsable' } },
    );
  }
  if (parsed.hostname === '' || decodeURIComponent(parsed.pathname.replace(/^\//, '')) === '') {
    throw new InvalidOptionError(
      'url',
      'The neon:// URL needs a host and a database, as in neon://user:password@ep-name.region.aws.neon.tech/DATABASE.',
      { context: { reason: parsed.hostname === '' ? 'no-host' : 'no-database' } },
    );
  }
  const socket: { -readonly [K in keyof NeonSocketOptions]: NeonSocketOptions[K] } = {};
  for (const [name, value] of [...parsed.searchParams]) {
    const key = name.toLowerCase();
    if (!(SOCKET_PARAMETERS as readonly string[]).includes(key)) continue;
    parsed.searchParams.delete(name);
    if (key === 'wsproxy') socket.wsProxy = value.replace(/^wss?:\/\//i, '');
    else if (key === 'usesecurewebsocket') socket.useSecureWebSocket = flag(name, value);
    else socket.pipelineConnect = flag(name, value) ? 'password' : false;
  }
  return { connectionString: parsed.toString(), socket };
}

function flag(name: string, value: string): boolean {
  if (/^(true|1|yes|on|password)$/i.test(value)) return true;
  if (/^(false|0|no|off)$/i.test(value)) return false;
  throw new InvalidOptionError(
    'url',
    `The neon:// URL's parameter ${name}=${value} is neither true nor false: use ${name}=true or ${name}=false.`,
    { context: { reason: 'bad-parameter', parameter: name } },
  );
}
