import { InvalidOptionError } from '@mig/core';
import { filePath, missingDriver, serverTarget } from '../../locations.js';
import type { DatabaseLocation, EngineDriver } from '../driver.js';
import { findSqliteTables } from '../sqlite/catalog.js';
import { createSqliteLeasePrimitive } from '../sqlite/lease.js';
import { splitSqliteStatements } from '../sqlite/split.js';
import { createSqliteStoreEngine } from '../sqlite/store.js';
import { fileTenants } from '../sqlite/tenants.js';
import { isTransientLibsqlError, memoryRefused } from './errors.js';

/** A local libSQL file in a mig URL: `libsql+file:PATH` (`file:` and `sqlite:` are SQLite's). */
const FILE_SCHEME = 'libsql+file';

/**
 * libSQL through `@libsql/client`: a local file several processes share, or a
 * server (sqld, Turso) over HTTP. SQLite's SQL, store, lease and splitter, run over a connection whose BEGIN
 * opens one of the client's interactive transactions (see `createLibsqlDialect`): the lease row is the only
 * lock, and each migration, its record and the head check commit in one transaction.
 */
export const libsqlDriver: EngineDriver = {
  capabilities: Object.freeze({
    engine: 'libsql',
    system: 'sqlite',
    embedded: false,
    transactionalDdl: true,
    sessionLocks: false,
    schemas: false,
  }),
  label: 'libSQL (createLibsqlDialect of @mig/kysely-adapter/libsql, on @libsql/client)',
  urls: {
    schemes: [FILE_SCHEME, 'libsql', 'https', 'http'],
    forms: [`${FILE_SCHEME}:PATH`, 'libsql://HOST', 'https://HOST', 'http://HOST:PORT'],
  },
  locate(url, scheme, rest) {
    if (scheme === FILE_SCHEME) {
      const path = filePath(rest, scheme);
      if (path === ':memory:') throw memoryRefused('url');
      return { engine: 'libsql', url, path };
    }
    if (!rest.startsWith('//')) {
      throw new InvalidOptionError(
        'url',
        `A "${scheme}:" URL names a libSQL server (${scheme}://HOST); for a local libSQL file use ${FILE_SCHEME}:PATH.`,
        { context: { scheme } },
      );
    }
    return { engine: 'libsql', url };
  },
  describe(location) {
    if (location.path !== undefined) return { system: 'sqlite', namespace: location.path, server: 'file' };
    const scheme = location.url.slice(0, location.url.indexOf(':')).toLowerCase();
    const port = scheme === 'http' ? '8080' : '443';
    // A libSQL server holds one database: its host names it.
    const target = serverTarget(location.url, 'sqlite', port, '');
    return { ...target, namespace: target.server.replace(/:\d+$/, '') };
  },
  where: (target) => `libSQL ${target.server === 'file' ? target.namespace : target.server}`,
  async openDialect(location, options) {
    // The client first, to name it when it is missing; the dialect loads it again (cached) on first query.
    await import('@libsql/client').catch(missingDriver('@libsql/client'));
    const { createLibsqlDialect } = await import('./dialect.js');
    return createLibsqlDialect({ url: clientUrl(location), authToken: options.authToken });
  },
  // Its adapter is Kysely's SqliteAdapter: without mig's brand it reads as SQLite (see the README).
  recognize: () => false,
  defaultNamespace: 'main',
  tenantFiles: fileTenants({ scheme: FILE_SCHEME, label: 'libSQL' }),
  createStore: createSqliteStoreEngine,
  split: splitSqliteStatements,
  locks: {
    lease: ({ db, tables, logger }) => createSqliteLeasePrimitive({ db, tables, logger }),
    // Nothing tells a waiter that the holder let go: poll often (a local file's poll is a read, and a
    // server's a short request).
    leaseBackoff: Object.freeze({ initialDelayMs: 10, maxDelayMs: 100 }),
    sessionNote:
      'libSQL has no advisory lock: mig always uses the lease there (its client keeps no session between ' +
      'requests to a server), and the file locks of a killed process end with it.',
  },
  isTransientConnectionError: isTransientLibsqlError,
  // A server ends a transaction left idle too long; nothing tells that apart from other errors yet.
  isSessionEnded: () => false,
  findTables: findSqliteTables,
};

/** What libSQL's client opens for a location: `file:PATH` for a local file, the URL itself for a server. */
function clientUrl(location: DatabaseLocation): string {
  return location.path === undefined ? location.url : `file:${location.path}`;
}
