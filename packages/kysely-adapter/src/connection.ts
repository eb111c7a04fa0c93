import { DATABASE_URL_FORMS, InvalidOptionError, type StoreTarget } from '@mig/core';
import type { Engine } from './engine.js';

/** What a database URL says: the engine, and for files and folders, the path. */
export type DatabaseLocation =
  | { readonly engine: 'postgres'; readonly url: string }
  | { readonly engine: 'mysql'; readonly url: string; readonly system: 'mysql' | 'mariadb' }
  | { readonly engine: 'sqlite'; readonly path: string }
  | { readonly engine: 'pglite'; readonly dir: string };

/** The URL forms mig reads, for messages. */
export const URL_FORMS = Object.values(DATABASE_URL_FORMS).flat();

/**
 * Reads a database URL:
 * - `postgres://…` or `postgresql://…`: PostgreSQL through pg;
 * - `mysql://…` or `mariadb://…`: MySQL or MariaDB through mysql2;
 * - `sqlite:PATH` or `file:PATH`: a SQLite file through better-sqlite3 (`sqlite::memory:` for memory);
 * - `pglite:DIR`: an embedded PGlite keeping its data in DIR (`pglite:` alone, or `pglite:memory:`, in memory).
 *
 * Anything else is an error naming the forms it accepts.
 *
 * @example
 * parseDatabaseUrl('pglite:./.data/pglite') // { engine: 'pglite', dir: './.data/pglite' }
 * parseDatabaseUrl('sqlite:./app.db') // { engine: 'sqlite', path: './app.db' }
 */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  const text = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  const rest = scheme === undefined ? '' : text.slice(scheme.length + 1);
  switch (scheme) {
    case 'postgres':
    case 'postgresql':
      return { engine: 'postgres', url: text };
    case 'mysql':
    case 'mariadb':
      return { engine: 'mysql', url: text, system: scheme };
    case 'sqlite':
    case 'file':
      return { engine: 'sqlite', path: filePath(rest, scheme) };
    case 'pglite': {
      const dir = rest.replace(/^\/\//, '');
      return { engine: 'pglite', dir: dir === '' || dir === 'memory:' ? 'memory://' : dir };
    }
    default:
      throw new InvalidOptionError(
        'url',
        `Cannot connect to ${scheme ? `a "${scheme}:" URL` : 'that URL (it has no scheme)'}: mig accepts ${URL_FORMS.join(', ')}.`,
        { context: { scheme } },
      );
  }
}

/** `sqlite:./app.db`, `sqlite:///var/app.db` (absolute), `file:app.db?mode=ro` (query dropped), `sqlite::memory:`. */
function filePath(rest: string, scheme: string): string {
  let path = rest.replace(/[?#].*$/, '');
  if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path → /abs/path; sqlite://rel → rel
  path = decodeURIComponent(path);
  if (path === ':memory:' || path === 'memory') return ':memory:';
  if (path === '') {
    throw new InvalidOptionError(
      'url',
      `A "${scheme}:" URL needs the database file after the colon, as in ${scheme}:./app.db (sqlite::memory: for memory).`,
      { context: { scheme } },
    );
  }
  return path;
}

/**
 * Describes a connection for spans, cache keys and messages: host and port, database name (or the file or
 * folder of an embedded one), never the user or password.
 *
 * @example
 * describeConnection('postgres://app:secret@db.internal:5432/shop') // { system: 'postgresql', namespace: 'shop', server: 'db.internal:5432' }
 */
export function describeConnection(url: string): Omit<StoreTarget, 'table'> {
  let location: DatabaseLocation;
  try {
    location = parseDatabaseUrl(url);
  } catch {
    return { system: 'unknown', namespace: 'unknown', server: 'unknown' };
  }
  switch (location.engine) {
    case 'pglite':
      return { system: 'postgresql', namespace: location.dir, server: 'embedded' };
    case 'sqlite':
      return { system: 'sqlite', namespace: location.path, server: 'file' };
    case 'mysql':
      return serverTarget(location.url, location.system, '3306', '');
    case 'postgres':
      return serverTarget(location.url, 'postgresql', '5432', 'postgres');
  }
}

function serverTarget(url: string, system: string, port: string, database: string): Omit<StoreTarget, 'table'> {
  try {
    const parsed = new URL(url);
    const namespace = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || database || 'unknown';
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return { system, namespace, server: `${host}:${parsed.port || port}` };
  } catch {
    return { system, namespace: 'unknown', server: 'unknown' };
  }
}

/** "postgresql db.internal:5432/shop", "PGlite ./.data/pglite", "SQLite ./app.db": where a connection goes, for people. */
export function describeWhere(url: string): string {
  const target = describeConnection(url);
  if (target.server === 'embedded') return `PGlite ${target.namespace}`;
  if (target.system === 'sqlite') return `SQLite ${target.namespace}`;
  return `${target.system} ${target.server}/${target.namespace}`;
}

export type { Engine };
