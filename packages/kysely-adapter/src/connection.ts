import { InvalidOptionError, type StoreTarget } from '@mig/core';
import type { Engine } from './engine.js';

/** What a database URL says: the engine, and for files and folders, the path. */
export type DatabaseLocation =
  | { readonly engine: 'postgres'; readonly url: string }
  | { readonly engine: 'pglite'; readonly dir: string };

/** The URL forms mig reads, for messages. */
export const URL_FORMS = ['postgres://…', 'postgresql://…', 'pglite:DIR'] as const;

/**
 * Reads a database URL: `postgres://` or `postgresql://` (PostgreSQL through pg), `pglite:DIR` (an embedded
 * PGlite keeping its data in DIR; `pglite:` alone, or `pglite:memory:`, keeps it in memory). Anything else is
 * an error naming the forms it accepts.
 *
 * @example
 * parseDatabaseUrl('pglite:./.data/pglite') // { engine: 'pglite', dir: './.data/pglite' }
 */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  const text = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'postgres':
    case 'postgresql':
      return { engine: 'postgres', url: text };
    case 'pglite': {
      const dir = text.slice('pglite:'.length).replace(/^\/\//, '');
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

/**
 * Describes a connection for spans, cache keys and messages: host and port, database name (or PGlite's
 * folder), never the user or password.
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
  if (location.engine === 'pglite') return { system: 'postgresql', namespace: location.dir, server: 'embedded' };
  try {
    const parsed = new URL(location.url);
    const namespace = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return { system: 'postgresql', namespace, server: `${host}:${parsed.port || '5432'}` };
  } catch {
    return { system: 'postgresql', namespace: 'unknown', server: 'unknown' };
  }
}

/** "postgresql db.internal:5432/shop", "PGlite ./.data/pglite": where a connection goes, for people. */
export function describeWhere(url: string): string {
  const target = describeConnection(url);
  return target.server === 'embedded'
    ? `PGlite ${target.namespace}`
    : `${target.system} ${target.server}/${target.namespace}`;
}

export type { Engine };
