import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Client, Config, InArgs, ResultSet, Transaction, TransactionMode } from '@libsql/client';
import { InvalidOptionError } from '@mig/core';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { brandAdapter } from '../../brand.js';
import { missingDriver } from '../../locations.js';
import { DEFAULT_SQLITE_BUSY_TIMEOUT_MS } from '../sqlite/dialect.js';
import { memoryRefused } from './errors.js';

export interface LibsqlDialectOptions {
  /**
   * What `createClient` of `@libsql/client` opens: `file:PATH` for a local file (its folder is created when
   * it is first written), `libsql://HOST`, `https://HOST` or `http://HOST:PORT` for a server.
   */
  readonly url?: string | undefined;
  /** The server's auth token (a Turso database token), unless the URL carries it as `?authToken=`. */
  readonly authToken?: string | undefined;
  /**
   * A client you made (`createClient` of `@libsql/client`), instead of `url`: mig uses it as it is and never
   * closes it. A local file must then exist, since the client opened it already.
   */
  readonly client?: Client | undefined;
  /**
   * How long a statement on a local file waits for another process's lock on it before it fails with
   * SQLITE_BUSY, ms. Default 5 s. The local client waits synchronously: keep it short enough not to stall
   * the process.
   */
  readonly busyTimeoutMs?: number | undefined;
  /**
   * Switches a local file to write-ahead logging when it is first opened (default true), so readers (a
   * status check) never wait behind a migration that is writing. Leave it off for a file on a network share.
   */
  readonly wal?: boolean | undefined;
}

/**
 * A Kysely dialect for libSQL on a `@libsql/client` client, set up for several processes sharing a database:
 *
 * - One connection, used by one caller at a time, as Kysely's SqliteDialect does: a statement waits while
 *   another caller of this instance is inside a transaction.
 * - That connection is a session: a BEGIN it sends opens an interactive transaction of the client
 *   (`client.transaction()`: BEGIN IMMEDIATE takes the write lock up front, as `'write'` mode), every statement
 *   up to its COMMIT or ROLLBACK runs in it, and those end it. The connection of `@libsql/kysely-libsql`
 *   sends every statement outside Kysely's transaction API to the client on its own: a BEGIN sent as SQL
 *   would not hold over HTTP (each request is its own stream), and on a local file it would hold on the
 *   client's shared connection. Kysely's `db.transaction()` takes the same road.
 * - A local file has a busy timeout and write-ahead logging, and is not created until something writes to
 *   it: until then, statements that only read see an empty database.
 *
 * @example
 * const db = new Kysely<DB>({ dialect: createLibsqlDialect({ url: 'file:./data/app.db' }) });
 * const db = new Kysely<DB>({ dialect: createLibsqlDialect({ url: 'libsql://shop-acme.turso.io', authToken }) });
 */
export function createLibsqlDialect(options: LibsqlDialectOptions): Dialect {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_SQLITE_BUSY_TIMEOUT_MS;
  if (!(busyTimeoutMs >= 0)) {
    throw new InvalidOptionError(
      'busyTimeoutMs',
      `busyTimeoutMs must be a number of milliseconds, 0 or more, not ${String(options.busyTimeoutMs)}.`,
    );
  }
  if (options.client === undefined && !options.url) {
    throw new InvalidOptionError(
      'url',
      'createLibsqlDialect needs a url (file:PATH, libsql://HOST, https://HOST) or a client.',
    );
  }
  if (options.client === undefined && isMemory(options.url as string)) throw memoryRefused('url');
  const source: ClientSource = options.client
    ? new GivenClient(options.client)
    : openingClient({
        url: options.url as string,
        authToken: options.authToken,
        busyTimeoutMs,
        wal: options.wal ?? true,
      });
  return new SessionDialect(source);
}

/**
 * Kysely's SQLite parts (adapter, introspector, query compiler: those kysely-libsql's dialect hands out too),
 * with mig's brand on the adapter, and a driver whose connection is a session. Nothing here imports a libSQL
 * package until the first query: a bundle that holds this module builds and starts without them.
 */
class SessionDialect implements Dialect {
  readonly #source: ClientSource;

  constructor(source: ClientSource) {
    this.#source = source;
  }

  createAdapter(): DialectAdapter {
    return brandAdapter(new SqliteAdapter(), 'libsql');
  }

  createDriver(): Driver {
    return new SessionDriver(this.#source);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
}

/** Where the connection's statements go: the client, opened when first needed. */
interface ClientSource {
  /** Whether the client talks to a server (each request its own stream) rather than a local file. */
  readonly remote: boolean;
  /** The client for a statement outside a transaction (for a file not created yet, a read may get a stand-in). */
  forStatement(sql: string): Promise<Client>;
  /** The client, opened (a local file created) if it was not. */
  open(): Promise<Client>;
  close(): void;
}

class GivenClient implements ClientSource {
  readonly remote: boolean;
  readonly #client: Client;

  constructor(client: Client) {
    this.#client = client;
    this.remote = client.protocol !== 'file';
  }

  forStatement(): Promise<Client> {
    return Promise.resolve(this.#client);
  }

  open(): Promise<Client> {
    return Promise.resolve(this.#client);
  }

  close(): void {}
}

interface OpeningSettings {
  readonly url: string;
  readonly authToken: string | undefined;
  readonly busyTimeoutMs: number;
  readonly wal: boolean;
}

function isMemory(url: string): boolean {
  return /^\s*(file:)?:memory:/i.test(url);
}

/** The file of a `file:` URL of libSQL's client, or undefined for a server or memory. */
function localFile(url: string): string | undefined {
  const match = /^file:(.*)$/i.exec(url.trim());
  if (!match) return undefined;
  let path = (match[1] as string).replace(/[?#].*$/, '');
  if (path.startsWith('//')) path = path.slice(2); // file:///abs → /abs
  path = decodeURIComponent(path);
  return path === '' || path.startsWith(':memory:') ? undefined : path;
}

function openingClient(settings: OpeningSettings): ClientSource {
  const file = localFile(settings.url);
  return file === undefined ? new LazyClient(settings, undefined) : new LazyClient(settings, file);
}

/**
 * The client, created on first use (loading `@libsql/client` then: never at import, so a bundle that holds
 * this module starts without it). For a local file that does not exist yet, a statement that only reads
 * runs against an empty in-memory stand-in, and the first other statement creates the file, as SQLite's
 * dialect does; a read once another process has created the file opens it.
 */
class LazyClient implements ClientSource {
  readonly remote: boolean;
  readonly #settings: OpeningSettings;
  readonly #file: string | undefined;
  #client: Promise<Client> | undefined;
  #stand: Promise<Client> | undefined;

  constructor(settings: OpeningSettings, file: string | undefined) {
    this.#settings = settings;
    this.#file = file;
    this.remote = !/^file:/i.test(settings.url.trim());
  }

  async forStatement(sql: string): Promise<Client> {
    if (this.#client || this.#file === undefined || existsSync(this.#file) || !onlyReads(sql)) return this.open();
    this.#stand ??= createLibsqlClient({ url: ':memory:' });
    return this.#stand;
  }

  open(): Promise<Client> {
    this.#client ??= this.#create();
    return this.#client;
  }

  async #create(): Promise<Client> {
    const { url, authToken, busyTimeoutMs, wal } = this.#settings;
    if (this.#file !== undefined) mkdirSync(dirname(resolve(this.#file)), { recursive: true });
    const client = await createLibsqlClient({ url, authToken, timeout: busyTimeoutMs });
    if (this.#file !== undefined && wal) await useWal(client);
    return client;
  }

  close(): void {
    const opened = [this.#client, this.#stand];
    this.#client = undefined;
    this.#stand = undefined;
    for (const client of opened) void client?.then((c) => c.close()).catch(() => {});
  }
}

async function createLibsqlClient(config: Config): Promise<Client> {
  const { createClient } = await import('@libsql/client').catch(missingDriver('@libsql/client'));
  return createClient(config);
}

/**
 * Switches a local file to write-ahead logging, once (the mode is kept in the file). Another process holding
 * the file at that moment may refuse it; the file then stays in its journal mode, which works too, and a
 * later opening tries again.
 */
async function useWal(client: Client): Promise<void> {
  try {
    const { rows } = await client.execute('pragma journal_mode');
    if (String(rows[0]?.[0] ?? '').toLowerCase() !== 'wal') await client.execute('pragma journal_mode = WAL');
  } catch {
    // Busy: another process has the file; its rollback journal serves as well.
  }
}

/**
 * A statement that only reads (a SELECT, or a WITH that writes nothing): it may run against the stand-in of
 * a file not created yet. Anything else opens the file; a read taken for a write only creates it early.
 */
function onlyReads(sql: string): boolean {
  return /^\s*(select|with)\b/i.test(sql) && !/\b(insert|update|delete|replace|create|drop|alter)\b/i.test(sql);
}

/** A BEGIN, COMMIT or ROLLBACK (SQLite's forms), as the session reads it; SAVEPOINTs are not among them. */
type Control = { readonly kind: 'begin'; readonly mode: TransactionMode } | { readonly kind: 'commit' | 'rollback' };

const CONTROL =
  /^\s*(?:(begin)(?:\s+(deferred|immediate|exclusive))?(?:\s+transaction)?|(commit|end)(?:\s+transaction)?|(rollback)(?:\s+transaction)?)\s*;?\s*$/i;

/** Comments and blanks before a statement's first word. */
const LEADING_COMMENTS = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;

function controlOf(sql: string): Control | undefined {
  const match = CONTROL.exec(sql.replace(LEADING_COMMENTS, ''));
  if (!match) return undefined;
  if (match[1])
    return { kind: 'begin', mode: match[2] && match[2].toLowerCase() !== 'deferred' ? 'write' : 'deferred' };
  return { kind: match[4] ? 'rollback' : 'commit' };
}

/** `pragma busy_timeout` or `pragma busy_timeout = N`: its value (undefined to read it). */
const BUSY_TIMEOUT = /^\s*pragma\s+busy_timeout\s*(?:=\s*(\d+))?\s*;?\s*$/i;

/** An error as SQLite's own for the same misuse, with its code. */
function sqliteError(message: string): Error {
  return Object.assign(new Error(`SQLITE_ERROR: ${message}`), { code: 'SQLITE_ERROR' });
}

/**
 * One connection, handed to one caller at a time (the others wait for its release): SQLite has one writer
 * at a time, and mig's store and lease code (SQLite's) count on a connection that is theirs alone between
 * BEGIN and COMMIT.
 */
class SessionDriver implements Driver {
  readonly #source: ClientSource;
  readonly #connection: SessionConnection;
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;

  constructor(source: ClientSource) {
    this.#source = source;
    this.#connection = new SessionConnection(source);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    while (this.#held) await this.#held;
    this.#held = new Promise((resolve) => {
      this.#release = resolve;
    });
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#held = undefined;
    this.#release = undefined;
    release?.();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SessionConnection).begin('write');
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SessionConnection).commit();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as SessionConnection).rollback();
  }

  async destroy(): Promise<void> {
    await this.#connection.rollback().catch(() => {});
    this.#source.close();
  }
}

/**
 * The connection as a session over libSQL's client: BEGIN opens an interactive transaction, statements run
 * in it until COMMIT or ROLLBACK, and outside one each statement runs on its own.
 */
class SessionConnection implements DatabaseConnection {
  readonly #source: ClientSource;
  #transaction: Transaction | undefined;
  /** A server's sessions have no busy timeout of the client's to set: the value is kept here, for reads. */
  #busyTimeoutMs = DEFAULT_SQLITE_BUSY_TIMEOUT_MS;

  constructor(source: ClientSource) {
    this.#source = source;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const control = controlOf(query.sql);
    if (control?.kind === 'begin') await this.begin(control.mode);
    else if (control?.kind === 'commit') await this.commit();
    else if (control?.kind === 'rollback') await this.rollback();
    if (control) return { rows: [] };
    if (this.#source.remote) {
      const busy = BUSY_TIMEOUT.exec(query.sql);
      if (busy) return this.#busyTimeout(busy[1]) as QueryResult<R>;
    }
    const target = this.#transaction ?? (await this.#source.forStatement(query.sql));
    const result: ResultSet = await target.execute({ sql: query.sql, args: query.parameters as InArgs });
    return {
      insertId: result.lastInsertRowid,
      numAffectedRows: BigInt(result.rowsAffected),
      rows: result.rows as unknown as R[],
    };
  }

  #busyTimeout(set: string | undefined): QueryResult<{ timeout: number }> {
    if (set === undefined) return { rows: [{ timeout: this.#busyTimeoutMs }] };
    this.#busyTimeoutMs = Number(set);
    return { rows: [] };
  }

  async begin(mode: TransactionMode): Promise<void> {
    if (this.#transaction) throw sqliteError('cannot start a transaction within a transaction');
    const client = await this.#source.open();
    const transaction = await client.transaction(mode);
    if (this.#source.remote) {
      // Over HTTP the client sends the BEGIN with the transaction's first statement: sent now, a BEGIN that
      // finds the database locked fails here, where it can be tried again, and not in the migration.
      try {
        await transaction.execute('select 1');
      } catch (error) {
        transaction.close();
        throw error;
      }
    }
    this.#transaction = transaction;
  }

  async commit(): Promise<void> {
    const transaction = this.#transaction;
    if (!transaction) throw sqliteError('cannot commit - no transaction is active');
    // A COMMIT that fails (SQLITE_BUSY) leaves the transaction open, as SQLite does: a ROLLBACK ends it.
    await transaction.commit();
    this.#transaction = undefined;
    transaction.close();
  }

  async rollback(): Promise<void> {
    const transaction = this.#transaction;
    if (!transaction) throw sqliteError('cannot rollback - no transaction is active');
    this.#transaction = undefined;
    try {
      if (!transaction.closed) await transaction.rollback();
    } finally {
      transaction.close();
    }
  }

  /** libSQL's client returns whole results. */
  streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('The libSQL dialect does not stream results; run the query without .stream().');
  }
}
