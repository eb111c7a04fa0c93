import { leaseExcludingSession } from '../../exclusive.js';
import { missingDriver, serverTarget, serverWhere } from '../../locations.js';
import type { EngineDriver } from '../driver.js';
import { readAdvisoryHolder } from '../postgres/advisory.js';
import { postgresDriver } from '../postgres/driver.js';
import { createLeasePrimitive } from '../postgres/lease.js';
import { NeonHttpStoreEngine } from './store.js';
import { NEON_HTTP_SCHEME, readNeonHttpUrl } from './url.js';

/**
 * PostgreSQL through Neon's serverless driver in HTTP mode (`neon+https://…`): no session, so the lock is
 * always PostgreSQL's lease row (each of its statements stands alone), and each migration goes with its checks
 * and its record as one non-interactive transaction request. PostgreSQL's SQL, splitter, lint and catalog
 * reads otherwise.
 */
export const neonHttpDriver: EngineDriver = {
  ...postgresDriver,
  capabilities: Object.freeze({ ...postgresDriver.capabilities, engine: 'neon-http', sessionLocks: false }),
  label: "Neon over HTTP (Neon's serverless neon() function, through createNeonHttpDialect)",
  urls: { schemes: [NEON_HTTP_SCHEME], forms: [`${NEON_HTTP_SCHEME}://…`] },
  locate(url) {
    readNeonHttpUrl(url);
    return { engine: 'neon-http', url };
  },
  describe: (location) => serverTarget(readNeonHttpUrl(location.url), 'postgresql', '5432', 'neondb'),
  where: (target) => `${serverWhere(target)} (Neon, HTTP)`,
  async openDialect(location) {
    const { createNeonHttpDialect } = await import('./dialect.js').catch(missingDriver('@neondatabase/serverless'));
    return createNeonHttpDialect({ url: location.url });
  },
  // Known by mig's brand only: Kysely's PostgresAdapter of another dialect is PostgreSQL's.
  recognize: () => false,
  confirm: undefined,
  defaultNamespace: 'neondb',
  // A tenant's search_path would have to be set in every request, and a no-transaction migration has none.
  tenants: undefined,
  createStore: (tables, settings) => new NeonHttpStoreEngine(tables, settings),
  locks: {
    // Instances on Neon's WebSocket mode (or pg) may hold the advisory lock of the same store: a lease
    // granted then is let go, as PostgreSQL's own lease does.
    lease: ({ db, tables, logger }) =>
      leaseExcludingSession(createLeasePrimitive({ db, tables, logger }), () => readAdvisoryHolder(db, tables)),
    sessionHolder: readAdvisoryHolder,
    sessionNote:
      "Neon's HTTP mode has no session, so no advisory lock: mig always uses the lease there. An advisory lock " +
      'shown here is held by an instance on a session (Neon over WebSocket, or pg).',
  },
};
