import { InvalidOptionError } from '@mig/core';

/** A local D1 database as miniflare (and `wrangler dev`) keeps it: the persist folder, the binding, its id. */
export interface LocalD1 {
  readonly persist: string;
  readonly binding: string;
  /** The database id, where the Worker's configuration gives one (wrangler's `database_id`). */
  readonly id?: string | undefined;
}

/** The binding a `d1:` URL names when it names none. */
export const DEFAULT_D1_BINDING = 'DB';

const BINDING = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `d1:PERSIST_DIR?binding=DB&id=DATABASE_ID`: the folder, the binding (default DB) and the optional id. */
export function parseLocalD1(rest: string): LocalD1 {
  const [path = '', query = ''] = rest.split('?', 2);
  const persist = decodeURIComponent(path.startsWith('//') ? path.slice(2) : path);
  const params = new URLSearchParams(query);
  const binding = params.get('binding') ?? DEFAULT_D1_BINDING;
  if (persist === '' || !BINDING.test(binding)) {
    throw new InvalidOptionError(
      'url',
      'A "d1:" URL names the folder where miniflare or `wrangler dev` keeps local D1 databases, and the binding: ' +
        'd1:./.wrangler/state/v3/d1?binding=DB (add &id=DATABASE_ID when the binding has a database_id).',
      { context: { scheme: 'd1' } },
    );
  }
  const id = params.get('id') ?? undefined;
  return { persist, binding, id };
}
