import type { Logger } from '@mig/core';
import type { BackoffOptions, LockHolder, SessionLockPrimitive, StoreTarget } from '@mig/core/adapter';
import type { Dialect, DialectAdapter } from 'kysely';
import type { MigrationDb } from '../db.js';
import type { AdminLeasePrimitive, AdvisoryFence } from '../fence.js';
import type { HistoryTable } from '../foreign/reader.js';
import type { SqlLinter } from '../lint/types.js';
import type { SqlSplitter } from '../sql/statement.js';
import type { EngineSettings, StoreEngine } from '../store-engine.js';
import type { StoreTables } from '../tables.js';

/**
 * What mig needs to know of an engine, read from the Kysely instance (never declared by the caller).
 * Kysely's `DialectAdapter.supportsTransactionalDdl` is the model: capabilities, not `instanceof` checks.
 */
export interface EngineCapabilities {
  /** The registry's name for the engine. */
  readonly engine: string;
  /** `db.system.name` in the OpenTelemetry conventions. */
  readonly system: string;
  /**
   * One process owns the database (PGlite): locks between processes mean nothing there, and an in-process
   * mutex is the whole lock.
   */
  readonly embedded: boolean;
  /** DDL inside a transaction is rolled back with it (Kysely's `supportsTransactionalDdl`). */
  readonly transactionalDdl: boolean;
  /**
   * Session-scoped locks that the server releases when the session ends (PostgreSQL advisory locks, MySQL
   * GET_LOCK): the `advisory` strategy. Without them, the lock is always the lease row.
   */
  readonly sessionLocks: boolean;
  /** Schemas (namespaces) apart from the database: mig's tables go in `public` by default. */
  readonly schemas: boolean;
}

/** Where a database URL points: the engine, the URL as given, and for embedded engines the file or folder. */
export interface DatabaseLocation {
  readonly engine: string;
  readonly url: string;
  /** The file (SQLite) or data folder (PGlite); `:memory:` / `memory://` for memory. */
  readonly path?: string | undefined;
  /** `db.system.name` when the URL says more than the engine does (`mariadb://` is MariaDB). */
  readonly system?: string | undefined;
}

/** How a database is opened from a URL (see `openDatabase`). */
export interface DialectOptions {
  readonly applicationName?: string | undefined;
  readonly maxConnections?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly onConnectionError?: ((error: Error) => void) | undefined;
  /** A libSQL server's auth token, given apart from the URL (which may carry it as `?authToken=`). */
  readonly authToken?: string | undefined;
}

/**
 * Where an engine keeps one tenant apart from the others, in the same server: a schema (PostgreSQL) or a
 * database (MySQL). Names reach SQL as bound values or quoted identifiers, never pasted.
 */
export interface TenantNamespaces {
  /** What a tenant is on this engine, for messages: "schema", "database". */
  readonly kind: string;
  /** The tenants' namespaces whose names match a SQL LIKE pattern, sorted; the engine's own are never listed. */
  list(db: MigrationDb, pattern: string): Promise<string[]>;
  exists(db: MigrationDb, name: string): Promise<boolean>;
  /** Creates it if it is missing. */
  create(db: MigrationDb, name: string): Promise<void>;
}

/**
 * A database per tenant at a location of its own, where the engine keeps no namespaces on one connection
 * (SQLite: a file per tenant beside the configured one).
 */
export interface TenantFiles {
  readonly kind: string;
  /** The URL of a tenant's database, from the configured location. */
  url(location: DatabaseLocation, name: string): string;
  /** The tenants whose databases exist and whose names match a SQL LIKE pattern, sorted. */
  list(location: DatabaseLocation, pattern: string): Promise<string[]>;
  exists(location: DatabaseLocation, name: string): Promise<boolean>;
}

/** What a lock primitive of an engine is built from. */
export interface LockPrimitiveOptions {
  readonly db: MigrationDb;
  readonly tables: StoreTables;
  readonly logger?: Logger | undefined;
  /** PostgreSQL: how often the server checks that the lock holder's client is still there, ms (0: never). */
  readonly clientCheckIntervalMs: number;
}

/**
 * One database engine, as mig runs on it: everything that differs between engines, and nothing else. Each
 * engine is one folder under `engines/` holding its driver (this), its dialect, store SQL, locks, fence,
 * splitter, error classification and catalog reads; the registry (`registry.ts`) names every driver, and is
 * the only place outside the engine folders that names an engine.
 */
export interface EngineDriver {
  readonly capabilities: EngineCapabilities;
  /** The engine and the Kysely dialect that reaches it, for messages: "SQLite (Kysely's SqliteDialect with better-sqlite3)". */
  readonly label: string;
  /** URL schemes it opens (`postgres`, `postgresql`), and the forms shown in messages (`postgres://…`). */
  readonly urls: { readonly schemes: readonly string[]; readonly forms: readonly string[] };
  /**
   * Reads a URL of one of its schemes: `rest` is what follows `scheme:`. Throws an `InvalidOptionError` for a
   * URL it cannot use.
   */
  locate(url: string, scheme: string, rest: string): DatabaseLocation;
  /** Where a location goes, for spans, cache keys and messages: no user, no password. */
  describe(location: DatabaseLocation): Omit<StoreTarget, 'table'>;
  /** "postgresql db:5432/shop", "SQLite ./app.db": where a connection goes, for people. */
  where(target: Omit<StoreTarget, 'table'>): string;
  /** A Kysely dialect on the location, loading the engine's driver package on first use. */
  openDialect(location: DatabaseLocation, options: DialectOptions): Promise<Dialect>;
  /**
   * Whether a Kysely dialect adapter is this engine's: `certain`, `maybe` (only a query can tell, see
   * `confirm`), or false. Adapters branded by mig's own dialects are recognised before this is asked.
   */
  recognize(adapter: DialectAdapter): 'certain' | 'maybe' | false;
  /**
   * The server's product and version as people call it ("MariaDB 10.11", "MySQL 8.0"), where one engine
   * speaks to several products; undefined where the engine's name says it.
   */
  serverProduct?(db: MigrationDb): Promise<string | undefined>;
  /** When `recognize` said `maybe`: asks the database which engine it is (a registry name). */
  confirm?(db: MigrationDb): Promise<string>;
  /** The database name when the target names none. */
  readonly defaultNamespace: string;
  /** A namespace per tenant on one server, where the engine has them (absent: a tenant is its own file). */
  readonly tenants?: TenantNamespaces | undefined;
  /** A database per tenant at its own location, where the engine has no namespaces (`tenants`). */
  readonly tenantFiles?: TenantFiles | undefined;
  /** mig's store SQL on this engine. */
  createStore(tables: StoreTables, settings: EngineSettings): StoreEngine;
  /** How the engine splits a SQL script into statements (the folder source's checks, no-transaction runs). */
  readonly split: SqlSplitter;
  readonly locks: {
    /** The lease lock row (every engine has one). */
    lease(options: LockPrimitiveOptions): AdminLeasePrimitive;
    /** The session lock, where the engine has one (`capabilities.sessionLocks`). */
    session?(options: LockPrimitiveOptions): SessionLockPrimitive<AdvisoryFence>;
    /** Who holds the session lock now, for `mig unlock` (null when free). */
    sessionHolder?(db: MigrationDb, tables: StoreTables): Promise<LockHolder | null>;
    /** The statement an operator runs to end a session lock's holder, e.g. `select pg_terminate_backend(42);`. */
    stopHolder?(holder: LockHolder): string | undefined;
    /** What the session lock is on this engine (or why there is none), for `mig unlock`. */
    readonly sessionNote: string;
    /** How a lease waiter polls on this engine, when not the lock's default backoff. */
    readonly leaseBackoff?: BackoffOptions | undefined;
  };
  /**
   * A connection refused for now, not for good (too many clients, the server starting up): retried with
   * backoff instead of counted as a failed attempt.
   */
  isTransientConnectionError(error: unknown): boolean;
  /**
   * The session running a statement was ended from outside (an operator's terminate or KILL, a failover, a
   * server restart): a migration that fails so is not at fault, and running it again is what to do.
   */
  isSessionEnded(error: unknown): boolean;
  /**
   * Finds tables by schema (null: where the connection looks by default) and name, in one round trip:
   * other tools' history tables. On an engine without schemas, the schema is ignored.
   */
  findTables(
    db: MigrationDb,
    candidates: readonly { readonly schema: string | null; readonly table: string }[],
  ): Promise<HistoryTable[]>;
  /**
   * The engine's lint rules (`mig lint`, the production guard), where it has them: its rules over a
   * migration's SQL (the parser loaded on first use), and a Kysely that compiles its SQL without connecting.
   */
  readonly lint?: { readonly rules: SqlLinter; compiler(): MigrationDb } | undefined;
}
