import { MigError, MigErrorCode } from '@mig/core';
import type { DialectAdapter } from 'kysely';
import type { MigrationDb } from '../../db.js';

// The slice of Cloudflare's D1 binding that mig uses (a `D1Database` in @cloudflare/workers-types), so that
// neither the package nor its types drag the Workers types in.

/** A statement prepared on a D1 database, with its values bound. */
export interface D1StatementLike {
  bind(...values: unknown[]): D1StatementLike;
  all(): Promise<D1ResultLike>;
}

/** What D1 answers for one statement. */
export interface D1ResultLike {
  readonly results?: readonly unknown[] | undefined;
  readonly error?: string | undefined;
  readonly meta?: { readonly changes?: number | undefined } | undefined;
}

/** A D1 database binding (`env.DB` in a Worker, `getD1Database('DB')` from miniflare). */
export interface D1DatabaseLike {
  prepare(query: string): D1StatementLike;
  /** Runs the statements in order as one SQL transaction: all of them take effect, or none does. */
  batch(statements: D1StatementLike[]): Promise<readonly D1ResultLike[]>;
}

/**
 * Where mig's D1 dialect keeps the binding on its dialect adapter: the store needs `batch()`, which Kysely's
 * driver interface does not reach. A global symbol, so two copies of this package agree.
 */
const D1_BINDING: unique symbol = Symbol.for('@mig/kysely-adapter.d1-binding') as never;

/** Keeps `database` on the adapter and returns the adapter. */
export function attachBinding<A extends DialectAdapter>(adapter: A, database: D1DatabaseLike): A {
  Object.defineProperty(adapter, D1_BINDING, { value: database, enumerable: false });
  return adapter;
}

/** The D1 binding behind a Kysely instance made with mig's D1 dialect. */
export function bindingOf(db: MigrationDb): D1DatabaseLike {
  let adapter: DialectAdapter | undefined;
  try {
    adapter = db.getExecutor().adapter;
  } catch {
    adapter = undefined;
  }
  const database = (adapter as { [D1_BINDING]?: D1DatabaseLike } | undefined)?.[D1_BINDING];
  if (database === undefined) {
    throw new MigError(
      MigErrorCode.InvalidOption,
      'This Kysely instance reaches D1 through a dialect mig cannot batch on. Create it with ' +
        "createD1Dialect(env.DB) from '@mig/kysely-adapter/d1' (it wraps kysely-d1's D1Dialect and lets mig " +
        'send each migration with its record in one batch).',
    );
  }
  return database;
}
