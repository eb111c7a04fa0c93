import { InvalidOptionError } from '@mig/core';
import { type DialectAdapter, MysqlAdapter, PostgresAdapter, SqliteAdapter, sql } from 'kysely';
import type { MigrationDb } from './sources.js';

/** The database engines mig runs on through Kysely. */
export const ENGINES = ['postgres', 'pglite', 'mysql', 'sqlite'] as const;
export type Engine = (typeof ENGINES)[number];

/**
 * Marks a Kysely dialect adapter with the engine behind it, where the adapter class alone cannot tell
 * (PGlite speaks PostgreSQL's dialect). A global symbol, so two copies of this package agree.
 */
export const ENGINE_BRAND: unique symbol = Symbol.for('@mig/kysely-adapter.engine') as never;

/** What mig needs to know of the engine, read from the Kysely instance (never declared by the caller). */
export interface EngineCapabilities {
  readonly engine: Engine;
  /** `db.system.name` in the OpenTelemetry conventions. */
  readonly system: 'postgresql' | 'mysql' | 'sqlite';
  /**
   * One process owns the database (PGlite): locks between processes mean nothing there, and an in-process
   * mutex is the whole lock.
   */
  readonly embedded: boolean;
  /** DDL inside a transaction is rolled back with it (Kysely's `supportsTransactionalDdl`). */
  readonly transactionalDdl: boolean;
  /**
   * Session-scoped locks that the server releases when the session ends (PostgreSQL advisory locks, MySQL
   * GET_LOCK): the `advisory` strategy.
   */
  readonly sessionLocks: boolean;
  /** Schemas (namespaces) apart from the database: mig's tables go in `public` by default. */
  readonly schemas: boolean;
}

const CAPABILITIES: Readonly<Record<Engine, EngineCapabilities>> = Object.freeze({
  postgres: Object.freeze({
    engine: 'postgres',
    system: 'postgresql',
    embedded: false,
    transactionalDdl: true,
    sessionLocks: true,
    schemas: true,
  }),
  pglite: Object.freeze({
    engine: 'pglite',
    system: 'postgresql',
    embedded: true,
    transactionalDdl: true,
    sessionLocks: false,
    schemas: true,
  }),
  mysql: Object.freeze({
    engine: 'mysql',
    system: 'mysql',
    embedded: false,
    transactionalDdl: false,
    sessionLocks: true,
    schemas: false,
  }),
  sqlite: Object.freeze({
    engine: 'sqlite',
    system: 'sqlite',
    // Several processes may share one file: the lock is a lease row, and each write a BEGIN IMMEDIATE.
    embedded: false,
    transactionalDdl: true,
    sessionLocks: false,
    schemas: false,
  }),
});

/** Marks a dialect adapter with its engine (see {@link ENGINE_BRAND}) and returns it. */
export function brandAdapter<A extends DialectAdapter>(adapter: A, engine: Engine): A {
  Object.defineProperty(adapter, ENGINE_BRAND, { value: engine, enumerable: false });
  return adapter;
}

export function capabilitiesOf(engine: Engine): EngineCapabilities {
  return CAPABILITIES[engine];
}

/** The engine as read from a Kysely instance; `certain` is false when only a query can tell (see {@link confirmEngine}). */
export interface DetectedEngine {
  readonly capabilities: EngineCapabilities;
  readonly certain: boolean;
}

/**
 * Reads the engine from a Kysely instance's dialect adapter. A PostgreSQL adapter without a brand may be
 * PostgreSQL or a PGlite behind another package's dialect: it is taken as PostgreSQL until
 * {@link confirmEngine} asks the database. Unknown dialects are an error naming what is supported.
 */
export function detectEngine(db: MigrationDb, override?: Engine | undefined): DetectedEngine {
  if (override !== undefined) {
    if (!(ENGINES as readonly string[]).includes(override)) throw unsupported(`engine "${String(override)}"`);
    return { capabilities: capabilitiesOf(override), certain: true };
  }
  const adapter = adapterOf(db);
  const brand = (adapter as { [ENGINE_BRAND]?: unknown } | undefined)?.[ENGINE_BRAND];
  if (typeof brand === 'string' && (ENGINES as readonly string[]).includes(brand)) {
    return { capabilities: capabilitiesOf(brand as Engine), certain: true };
  }
  if (adapter instanceof MysqlAdapter || inheritsFrom(adapter, 'MysqlAdapter')) {
    return { capabilities: capabilitiesOf('mysql'), certain: true };
  }
  if (adapter instanceof SqliteAdapter || inheritsFrom(adapter, 'SqliteAdapter')) {
    return { capabilities: capabilitiesOf('sqlite'), certain: true };
  }
  if (adapter instanceof PostgresAdapter || inheritsFrom(adapter, 'PostgresAdapter')) {
    return { capabilities: capabilitiesOf('postgres'), certain: false };
  }
  throw unsupported(`a Kysely dialect whose adapter is ${adapter?.constructor?.name ?? 'unknown'}`);
}

const confirmed = new WeakMap<object, Promise<Engine>>();

/**
 * The engine for certain: when the adapter could not tell, one `select version()` (once per Kysely
 * instance) tells PGlite from PostgreSQL.
 */
export function confirmEngine(db: MigrationDb, detected: DetectedEngine): Promise<Engine> {
  if (detected.certain) return Promise.resolve(detected.capabilities.engine);
  let known = confirmed.get(db);
  if (!known) {
    known = sql<{ version: string }>`select version() as version`
      .execute(db)
      .then(({ rows }) => (/pglite|emscripten|wasm32/i.test(rows[0]?.version ?? '') ? 'pglite' : 'postgres'));
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

function inheritsFrom(value: unknown, className: string): boolean {
  for (let proto = value === null || value === undefined ? null : Object.getPrototypeOf(value); proto; ) {
    if (proto.constructor?.name === className) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

function unsupported(what: string): InvalidOptionError {
  return new InvalidOptionError(
    'db',
    `mig does not support ${what}. Supported: PostgreSQL (Kysely's PostgresDialect with pg), PGlite (PGliteDialect of ` +
      "@mig/kysely-adapter/pglite), MySQL and MariaDB (Kysely's MysqlDialect with mysql2), SQLite (Kysely's " +
      'SqliteDialect with better-sqlite3).',
  );
}
