import type { DialectAdapter } from 'kysely';

/**
 * Marks a Kysely dialect adapter with the engine behind it, where the adapter class alone cannot tell
 * (PGlite speaks PostgreSQL's dialect). A global symbol, so two copies of this package agree.
 */
export const ENGINE_BRAND: unique symbol = Symbol.for('@mig/kysely-adapter.engine') as never;

/** Marks a dialect adapter with its engine (a registry name) and returns it. */
export function brandAdapter<A extends DialectAdapter>(adapter: A, engine: string): A {
  Object.defineProperty(adapter, ENGINE_BRAND, { value: engine, enumerable: false });
  return adapter;
}

/** The engine a dialect adapter was branded with, if any. */
export function brandOf(adapter: DialectAdapter | undefined): string | undefined {
  const brand = (adapter as { [ENGINE_BRAND]?: unknown } | undefined)?.[ENGINE_BRAND];
  return typeof brand === 'string' ? brand : undefined;
}

/**
 * The adapter is an instance of `Class`, or of a class of that name from another copy of Kysely (a second
 * copy in node_modules fails `instanceof`).
 */
export function isAdapterOf(adapter: DialectAdapter | undefined, Class: abstract new () => DialectAdapter): boolean {
  if (adapter instanceof Class) return true;
  for (let proto = adapter === undefined ? null : Object.getPrototypeOf(adapter); proto; ) {
    if (proto.constructor?.name === Class.name) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}
