import { InvalidOptionError } from '@mig/core';
import type { PostgresDialect } from 'kysely';
import { missingDriver } from '../../locations.js';
import { createPoolDialect, type TappablePool } from '../postgres/pool-dialect.js';
import { type NeonSocketOptions, readNeonUrl } from './url.js';

export interface NeonDialectOptions extends NeonSocketOptions {
  /**
   * A PostgreSQL connection string (`postgres://…`), as Neon's console shows it, or a `neon://…` URL (whose
   * WebSocket parameters apply, unless given here too).
   */
  readonly url: string;
  /** Most connections (WebSockets) in the pool. Default 10. The advisory lock needs 1, the lease 2. */
  readonly max?: number | undefined;
  /** Shown in pg_stat_activity, and in mig's lock-wait messages about this instance. */
  readonly applicationName?: string | undefined;
  /** Longest wait for a new connection (and for a free one in the pool). Default 10 s; never unbounded. */
  readonly connectTimeoutMs?: number | undefined;
  /** Close connections idle this long. Default 10 s. */
  readonly idleTimeoutMs?: number | undefined;
  /**
   * The WebSocket class, where there is no global `WebSocket` (Node 20: `import ws from 'ws'`). Default: Neon's
   * `neonConfig.webSocketConstructor`, else the global one.
   */
  readonly webSocketConstructor?: unknown;
  /** Connection errors outside a query (a dropped WebSocket): reported here instead of crashing the process. */
  readonly onConnectionError?: ((error: Error) => void) | undefined;
}

/**
 * A Kysely dialect on Neon's serverless driver in WebSocket mode: its `Pool` speaks PostgreSQL's protocol over
 * a WebSocket, with sessions, so mig runs on it as on PostgreSQL (advisory lock, a transaction per migration,
 * LISTEN/NOTIFY for lock waiters). The socket options apply to this pool's connections only, never to
 * Neon's global `neonConfig`.
 *
 * @example
 * import ws from 'ws';
 * const db = new Kysely<DB>({ dialect: createNeonDialect({ url: process.env.DATABASE_URL!, webSocketConstructor: ws }) });
 */
export function createNeonDialect(given: NeonDialectOptions): PostgresDialect {
  const options = /^neon:/i.test(given.url) ? withNeonUrl(given) : given;
  // The driver and the pool on the first query, never at import: a bundle without the driver builds.
  const pool = async (): Promise<TappablePool> => {
    const { Client, neonConfig, Pool } = await import('@neondatabase/serverless').catch(
      missingDriver('@neondatabase/serverless'),
    );
    const global = (globalThis as { WebSocket?: unknown }).WebSocket;
    if (options.webSocketConstructor === undefined && neonConfig.webSocketConstructor === undefined && !global) {
      throw new InvalidOptionError(
        'webSocketConstructor',
        "This runtime has no WebSocket (Node 20): pass the ws package, as in createNeonDialect({ url, webSocketConstructor: ws }) with import ws from 'ws' (npm install ws).",
      );
    }
    const created = new Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      application_name: options.applicationName,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    });
    const socket = socketSettings(options);
    if (Object.keys(socket).length > 0) {
      // Each connection's own neonConfig: set on the client the pool makes, before it connects.
      created.Client = class extends Client {
        constructor(config?: ConstructorParameters<typeof Client>[0]) {
          super(config);
          Object.assign(this.neonConfig, socket);
        }
      };
    }
    return created;
  };
  return createPoolDialect(pool, 'neon', options.onConnectionError);
}

/** A `neon://` URL read: the connection string, and its WebSocket parameters under the options given. */
function withNeonUrl(options: NeonDialectOptions): NeonDialectOptions {
  const { connectionString, socket } = readNeonUrl(options.url);
  return { ...socket, ...definedOnly(options), url: connectionString };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The options given, by Neon's names; an option not given keeps Neon's global setting. */
function socketSettings(options: NeonDialectOptions): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    webSocketConstructor: options.webSocketConstructor,
    wsProxy: options.wsProxy,
    useSecureWebSocket: options.useSecureWebSocket,
    pipelineConnect: options.pipelineConnect,
  };
  return definedOnly(settings);
}
