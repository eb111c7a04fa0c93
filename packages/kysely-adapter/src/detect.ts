import { InvalidOptionError } from '@mig/core';
import type { DialectAdapter } from 'kysely';
import { brandOf } from './brand.js';
import type { MigrationDb } from './db.js';
import type { EngineCapabilities, EngineDriver } from './engines/driver.js';
import { DRIVERS, driverOf, ENGINES, type Engine, isEngine } from './engines/registry.js';

/** The engine as read from a Kysely instance; `certain` is false when only a query can tell (see {@link confirmEngine}). */
export interface DetectedEngine {
  readonly engine: Engine;
  readonly driver: EngineDriver;
  readonly capabilities: EngineCapabilities;
  readonly certain: boolean;
}

function detected(engine: Engine, certain: boolean): DetectedEngine {
  const driver = driverOf(engine);
  return { engine, driver, capabilities: driver.capabilities, certain };
}

/**
 * Reads the engine from a Kysely instance's dialect adapter: mig's own dialects brand theirs; otherwise each
 * driver says whether the adapter is its engine's. An adapter that only a query can tell (a PostgreSQL
 * adapter may be PGlite behind another package's dialect) is taken as the driver's own engine until
 * {@link confirmEngine} asks the database. Unknown dialects are an error naming what is supported.
 */
export function detectEngine(db: MigrationDb, override?: Engine | undefined): DetectedEngine {
  if (override !== undefined) {
    if (!isEngine(override)) throw unsupported(`engine "${String(override)}"`);
    return detected(override, true);
  }
  const adapter = adapterOf(db);
  const brand = brandOf(adapter);
  if (isEngine(brand)) return detected(brand, true);
  let maybe: Engine | undefined;
  for (const engine of ENGINES) {
    const verdict = adapter === undefined ? false : DRIVERS[engine].recognize(adapter);
    if (verdict === 'certain') return detected(engine, true);
    if (verdict === 'maybe') maybe ??= engine;
  }
  if (maybe !== undefined) return detected(maybe, false);
  throw unsupported(`a Kysely dialect whose adapter is ${adapter?.constructor?.name ?? 'unknown'}`);
}

const confirmed = new WeakMap<object, Promise<Engine>>();

/**
 * The engine for certain: when the adapter could not tell, one query (once per Kysely instance, e.g. `select
 * version()`) asks the database.
 */
export function confirmEngine(db: MigrationDb, found: DetectedEngine): Promise<Engine> {
  if (found.certain || found.driver.confirm === undefined) return Promise.resolve(found.engine);
  let known = confirmed.get(db);
  if (!known) {
    const confirm = found.driver.confirm.bind(found.driver);
    known = confirm(db).then((name) => (isEngine(name) ? name : found.engine));
    known.catch(() => confirmed.delete(db));
    confirmed.set(db, known);
  }
  return known;
}

/** Kysely's dialect adapter of an instance (the same accessor Kysely's own Migrator uses). */
function adapterOf(db: MigrationDb): DialectAdapter | undefined {
  try {
    return db.getExecutor().adapter;
  } catch {
    return undefined;
  }
}

function unsupported(what: string): InvalidOptionError {
  return new InvalidOptionError(
    'db',
    `mig does not support ${what}. Supported: ${ENGINES.map((e) => DRIVERS[e].label).join(', ')}.`,
  );
}
