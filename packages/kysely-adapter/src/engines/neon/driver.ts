import { missingDriver, serverTarget, serverWhere } from '../../locations.js';
import type { EngineDriver } from '../driver.js';
import { postgresDriver } from '../postgres/driver.js';
import { readNeonUrl } from './url.js';

/**
 * PostgreSQL through Neon's serverless driver in WebSocket mode (`neon://…`): PostgreSQL's store, locks,
 * splitter and lint over a pg-compatible pool whose connections are WebSockets. What differs from PostgreSQL
 * is only how the database is opened. A Kysely a user made on Neon's `Pool` with Kysely's own PostgresDialect
 * is PostgreSQL to mig (the adapter cannot tell the pool), and runs the same way.
 */
export const neonDriver: EngineDriver = {
  ...postgresDriver,
  capabilities: Object.freeze({ ...postgresDriver.capabilities, engine: 'neon' }),
  label: "Neon (Neon's serverless Pool over a WebSocket, through createNeonDialect)",
  urls: { schemes: ['neon'], forms: ['neon://…'] },
  locate(url) {
    readNeonUrl(url);
    return { engine: 'neon', url };
  },
  describe: (location) => serverTarget(readNeonUrl(location.url).connectionString, 'postgresql', '5432', 'neondb'),
  where: (target) => `${serverWhere(target)} (Neon, WebSocket)`,
  async openDialect(location, options) {
    const { createNeonDialect } = await import('./dialect.js').catch(missingDriver('@neondatabase/serverless'));
    return createNeonDialect({
      url: location.url,
      webSocketConstructor: await webSocketClass(),
      applicationName: options.applicationName,
      max: options.maxConnections,
      connectTimeoutMs: options.connectTimeoutMs,
      onConnectionError: options.onConnectionError,
    });
  },
  // Known by mig's brand only: a PostgresAdapter of another dialect is PostgreSQL's (see above).
  recognize: () => false,
  defaultNamespace: 'neondb',
  locks: {
    ...postgresDriver.locks,
    sessionNote:
      'Advisory locks need no unlock: PostgreSQL releases them the moment the holding session ends, and over ' +
      "Neon's WebSocket the session ends when its WebSocket closes (a crashed holder, a dropped connection).",
  },
};

/** The global WebSocket where there is one (Node 22, edge runtimes); else the `ws` package (Node 20). */
async function webSocketClass(): Promise<unknown> {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function') return undefined;
  const ws = await import('ws').catch(missingDriver('ws'));
  return ws.default;
}
