import { missingDriver } from '../../locations.js';
import type { EngineDriver } from '../driver.js';
import { findSqliteTables } from '../sqlite/catalog.js';
import { splitSqliteStatements } from '../sqlite/split.js';
import { createD1LeasePrimitive } from './lease.js';
import { createD1StoreEngine } from './store.js';
import { parseLocalD1 } from './url.js';

/**
 * Cloudflare D1 through kysely-d1: SQLite behind an HTTP-like binding with no interactive transaction and no
 * session. Each migration goes with its record, the head compare-and-swap and the lease check in one
 * `batch()`; the lock is always the lease row. In a Worker, the dialect comes from `createD1Dialect(env.DB)`;
 * from Node (the CLI), a `d1:` URL opens a local D1 through miniflare.
 */
export const d1Driver: EngineDriver = {
  capabilities: Object.freeze({
    engine: 'd1',
    system: 'sqlite',
    embedded: false,
    // A batch is one SQL transaction: DDL in it is rolled back with the rest.
    transactionalDdl: true,
    sessionLocks: false,
    schemas: false,
  }),
  label: "Cloudflare D1 (createD1Dialect of @mig/kysely-adapter/d1, on kysely-d1's D1Dialect)",
  urls: { schemes: ['d1'], forms: ['d1:PERSIST_DIR?binding=DB'] },
  locate(url, _scheme, rest) {
    const local = parseLocalD1(rest);
    return { engine: 'd1', url, path: local.persist };
  },
  describe(location) {
    const local = parseLocalD1(location.url.replace(/^d1:/i, ''));
    return { system: 'sqlite', namespace: local.binding, server: `local ${local.persist}` };
  },
  where: (target) =>
    target.server === 'unknown' ? `Cloudflare D1 ${target.namespace}` : `Cloudflare D1 ${target.namespace} (${target.server})`,
  async openDialect(location) {
    await import('kysely-d1').catch(missingDriver('kysely-d1'));
    const { openLocalD1 } = await import('./local.js');
    return openLocalD1(parseLocalD1(location.url.replace(/^d1:/i, '')));
  },
  // kysely-d1's own adapter is SQLite's and says nothing of D1: only mig's D1 dialect (branded) is known.
  recognize: () => false,
  defaultNamespace: 'DB',
  createStore: createD1StoreEngine,
  split: splitSqliteStatements,
  locks: {
    lease: ({ db, tables, logger }) => createD1LeasePrimitive({ db, tables, logger }),
    sessionNote: 'D1 has no session, so no advisory lock: mig always uses the lease there.',
  },
  isTransientConnectionError: () => false,
  isSessionEnded: () => false,
  findTables: findSqliteTables,
};
