import type { StoreTarget } from '@mig/core';

/**
 * Describes a PostgreSQL connection string for spans, cache keys and messages: host and port, database
 * name, never the user or password.
 *
 * @example
 * describeConnection('postgres://app:secret@db.internal:5432/shop') // { system: 'postgresql', namespace: 'shop', server: 'db.internal:5432' }
 */
export function describeConnection(url: string): Omit<StoreTarget, 'table'> {
  try {
    const parsed = new URL(url);
    const namespace = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return { system: 'postgresql', namespace, server: `${host}:${parsed.port || '5432'}` };
  } catch {
    return { system: 'postgresql', namespace: 'unknown', server: 'unknown' };
  }
}
