import { MigError, MigErrorCode } from '@mig/core';
import type { CompiledQuery, DialectAdapter, QueryResult, RawBuilder } from 'kysely';
import type { MigrationDb } from '../../db.js';

/** A query to send: SQL text alone, a compiled query, or a raw builder compiled by the store's Kysely. */
export type HttpQuery = string | CompiledQuery | RawBuilder<unknown>;

/** One statement's answer over HTTP, as Kysely takes it. */
export type HttpResult = QueryResult<Record<string, unknown>>;

/**
 * What mig sends over Neon's HTTP mode: one statement per request, or several in one non-interactive
 * transaction that Neon runs as one: all take effect, or none does, and the first error ends it.
 */
export interface NeonHttpRunner {
  one(sql: string, parameters: readonly unknown[]): Promise<HttpResult>;
  transaction(
    queries: readonly { readonly sql: string; readonly parameters: readonly unknown[] }[],
  ): Promise<HttpResult[]>;
}

/**
 * Where mig's Neon HTTP dialect keeps its runner on the dialect adapter: the store needs `transaction([...])`,
 * which Kysely's driver interface does not reach. A global symbol, so two copies of this package agree.
 */
const NEON_HTTP_RUNNER: unique symbol = Symbol.for('@mig/kysely-adapter.neon-http-runner') as never;

/** Keeps `runner` on the adapter and returns the adapter. */
export function attachRunner<A extends DialectAdapter>(adapter: A, runner: NeonHttpRunner): A {
  Object.defineProperty(adapter, NEON_HTTP_RUNNER, { value: runner, enumerable: false });
  return adapter;
}

/** The runner behind a Kysely instance made with mig's Neon HTTP dialect. */
export function runnerOf(db: MigrationDb): NeonHttpRunner {
  const adapter = db.getExecutor().adapter as { [NEON_HTTP_RUNNER]?: NeonHttpRunner };
  const runner = adapter[NEON_HTTP_RUNNER];
  if (runner === undefined) {
    throw new MigError(
      MigErrorCode.InvalidOption,
      "This Kysely instance reaches Neon over HTTP through a dialect mig cannot send transactions on. Create it with createNeonHttpDialect({ url }) from '@mig/kysely-adapter/neon-http' (it sends each migration with its record in one transaction request).",
    );
  }
  return runner;
}

/** Sends `queries` as one transaction: all of them take effect, or none. Returns each statement's answer. */
export function sendTransaction(db: MigrationDb, queries: readonly (HttpQuery | undefined)[]): Promise<HttpResult[]> {
  const compiled = queries
    .filter((q): q is HttpQuery => q !== undefined && (typeof q !== 'string' || q.trim() !== ''))
    .map((q) => compile(db, q));
  return runnerOf(db).transaction(compiled);
}

/** One statement on its own, committed at once. */
export function sendOne(db: MigrationDb, query: HttpQuery): Promise<HttpResult> {
  const { sql, parameters } = compile(db, query);
  return runnerOf(db).one(sql, parameters);
}

function compile(db: MigrationDb, query: HttpQuery): { sql: string; parameters: readonly unknown[] } {
  if (typeof query === 'string') return { sql: query, parameters: [] };
  return 'compile' in query ? query.compile(db) : query;
}
