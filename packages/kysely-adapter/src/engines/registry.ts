import { d1Driver } from './d1/driver.js';
import type { EngineDriver } from './driver.js';
import { libsqlDriver } from './libsql/driver.js';
import { mysqlDriver } from './mysql/driver.js';
import { neonDriver } from './neon/driver.js';
import { neonHttpDriver } from './neon-http/driver.js';
import { pgliteDriver } from './pglite/driver.js';
import { postgresDriver } from './postgres/driver.js';
import { sqliteDriver } from './sqlite/driver.js';

/**
 * Every engine mig runs on, by name: the one place outside the engine folders that names an engine. Adding
 * an engine is a folder under `engines/` with its driver, and one line here.
 */
export const DRIVERS = Object.freeze({
  postgres: postgresDriver,
  mysql: mysqlDriver,
  sqlite: sqliteDriver,
  pglite: pgliteDriver,
  libsql: libsqlDriver,
  d1: d1Driver,
  neon: neonDriver,
  'neon-http': neonHttpDriver,
} satisfies Record<string, EngineDriver>);

/** The database engines mig runs on through Kysely. */
export type Engine = keyof typeof DRIVERS;
export const ENGINES: readonly Engine[] = Object.freeze(Object.keys(DRIVERS) as Engine[]);

export function isEngine(name: unknown): name is Engine {
  return typeof name === 'string' && Object.hasOwn(DRIVERS, name);
}

export function driverOf(engine: Engine): EngineDriver {
  return DRIVERS[engine];
}

/** Every URL form the engines read, for messages: `postgres://…`, `mysql://…`, `sqlite:PATH`, … */
export const URL_FORMS: readonly string[] = Object.freeze(ENGINES.flatMap((e) => DRIVERS[e].urls.forms));

/** The engine whose driver opens URLs of `scheme` (lowercase), if any. */
export function engineForScheme(scheme: string): Engine | undefined {
  return ENGINES.find((e) => DRIVERS[e].urls.schemes.includes(scheme));
}
