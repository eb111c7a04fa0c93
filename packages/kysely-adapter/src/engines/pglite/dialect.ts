import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { brandAdapter } from '../../brand.js';

/** The slice of PGlite this dialect uses, so `@electric-sql/pglite` stays out of our public types. */
export interface PGliteLike {
  readonly waitReady: Promise<void>;
  query<R>(
    sql: string,
    params?: unknown[],
  ): Promise<{ rows: R[]; affectedRows?: number | undefined; fields?: unknown }>;
  exec(sql: string): Promise<Array<{ rows: unknown[]; affectedRows?: number | undefined }>>;
  close(): Promise<void>;
  readonly closed?: boolean;
}

export interface PGliteDialectOptions {
  /** A PGlite instance, or a function that creates one when Kysely first needs it. */
  readonly pglite: PGliteLike | (() => PGliteLike | Promise<PGliteLike>);
  /** Close the PGlite instance when `db.destroy()` is called. Default true. */
  readonly closeOnDestroy?: boolean;
}

/**
 * A Kysely dialect for PGlite (embedded PostgreSQL in WebAssembly). PGlite is one session, so the driver
 * hands out one connection at a time; a query without parameters goes through PGlite's simple protocol,
 * which accepts several statements, so a SQL migration file runs as it does on PostgreSQL.
 *
 * @example
 * const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite: new PGlite('./.data/pglite') }) });
 */
export class PGliteDialect implements Dialect {
  readonly #options: PGliteDialectOptions;

  constructor(options: PGliteDialectOptions) {
    this.#options = Object.freeze({ ...options });
  }

  createAdapter() {
    // Branded, so mig reads "PGlite" from the Kysely instance: PostgreSQL's dialect, but one process.
    return brandAdapter(new PostgresAdapter(), 'pglite');
  }

  createDriver(): Driver {
    return new PGliteDriver(this.#options);
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own Dialect signature.
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }

  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PGliteDriver implements Driver {
  readonly #options: PGliteDialectOptions;
  #pglite: PGliteLike | undefined;
  #connection: PGliteConnection | undefined;
  /** Resolves when the connection is free; each acquirer chains on the previous one. */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: PGliteDialectOptions) {
    this.#options = options;
  }

  async init(): Promise<void> {
    const { pglite } = this.#options;
    this.#pglite = typeof pglite === 'function' ? await pglite() : pglite;
    await this.#pglite.waitReady;
    this.#connection = new PGliteConnection(this.#pglite);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#queue;
    let release!: () => void;
    this.#queue = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    const connection = this.#connection;
    if (!connection) {
      release();
      throw new Error('The PGlite driver has been destroyed; create a new Kysely instance.');
    }
    connection.release = release;
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let text = 'begin';
    if (settings.isolationLevel) text += ` isolation level ${settings.isolationLevel}`;
    if (settings.accessMode) text += ` ${settings.accessMode}`;
    await connection.executeQuery(CompiledQuery.raw(text));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteIdent(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to savepoint ${quoteIdent(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint ${quoteIdent(name)}`));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as PGliteConnection).release?.();
  }

  async destroy(): Promise<void> {
    const pglite = this.#pglite;
    this.#connection = undefined;
    this.#pglite = undefined;
    if (pglite && this.#options.closeOnDestroy !== false && !pglite.closed) await pglite.close();
  }
}

class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGliteLike;
  release: (() => void) | undefined;

  constructor(pglite: PGliteLike) {
    this.#pglite = pglite;
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    if (compiled.parameters.length === 0) {
      // Simple protocol: several statements allowed; the last one's rows are the result.
      const results = await this.#pglite.exec(compiled.sql);
      const last = results[results.length - 1];
      return toQueryResult<R>((last?.rows ?? []) as R[], last?.affectedRows);
    }
    const result = await this.#pglite.query<R>(compiled.sql, [...compiled.parameters]);
    return toQueryResult(result.rows, result.affectedRows);
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    // PGlite has no cursors over its message channel; the whole result is one chunk.
    yield await this.executeQuery<R>(compiled);
  }
}

function toQueryResult<R>(rows: R[], affectedRows: number | undefined): QueryResult<R> {
  return affectedRows === undefined || affectedRows === null
    ? { rows }
    : { rows, numAffectedRows: BigInt(affectedRows) };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
