import { MigError, MigErrorCode } from '@mig/core';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type QueryResult,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type { MigrationDb } from '../../db.js';

/**
 * Runs a code migration against a Kysely instance that sends nothing: its queries are compiled and kept, in
 * order, to go into the migration's batch with its record. D1 has no transaction that could hold them while
 * the code runs, so a migration cannot see what its own queries return there: a query whose rows it could
 * read (a SELECT, a RETURNING, an introspection) and a transaction of its own are refused before anything is
 * sent, with what to do instead.
 */
export async function captureQueries(
  db: MigrationDb,
  name: string,
  run: (db: MigrationDb) => Promise<void>,
): Promise<CompiledQuery[]> {
  const captured: CompiledQuery[] = [];
  const adapter = db.getExecutor().adapter;
  const capturing = new Kysely({
    dialect: {
      // The same adapter: mig's marks on it (the engine, the binding) hold for this instance too.
      createAdapter: () => adapter,
      createDriver: () => new CapturingDriver(name, captured),
      createQueryCompiler: () => new SqliteQueryCompiler(),
      createIntrospector: (k) => new SqliteIntrospector(k),
    },
  });
  await run(capturing);
  return captured;
}

class CapturingDriver implements Driver {
  readonly #connection: DatabaseConnection;
  readonly #name: string;

  constructor(name: string, captured: CompiledQuery[]) {
    this.#name = name;
    this.#connection = {
      async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        const reason = readsRows(query);
        if (reason !== undefined) throw refused(name, reason);
        captured.push(query);
        return { rows: [] };
      },
      // biome-ignore lint/correctness/useYield: it refuses before it could yield.
      async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
        throw refused(name, 'it streams rows');
      },
    };
  }

  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }
  async beginTransaction(): Promise<void> {
    throw refused(this.#name, 'it opens a transaction of its own (mig runs it in one batch already)');
  }
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {}
}

/** Why a query would hand rows back to the migration, or undefined when it only writes. */
function readsRows(query: CompiledQuery): string | undefined {
  const node = query.query as { kind: string; returning?: unknown };
  if (node.kind === 'SelectQueryNode') return 'it reads rows (a SELECT)';
  if (node.returning !== undefined) return 'it reads rows back (RETURNING)';
  if (node.kind !== 'RawNode') return undefined;
  const text = query.sql.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '').toLowerCase();
  if (/^(select|values|explain)\b/.test(text)) return 'it reads rows (a SELECT)';
  if (/^pragma\b/.test(text) && !text.includes('=')) return 'it reads rows (a PRAGMA that answers)';
  if (/\breturning\b/.test(text)) return 'it reads rows back (RETURNING)';
  return undefined;
}

function refused(name: string, reason: string): MigError {
  return new MigError(
    MigErrorCode.InvalidOption,
    `Migration "${name}" cannot run on D1 as written: ${reason}. On D1 a code migration's queries are sent in ` +
      'one batch with its record, after its code has run, so the code never sees what they return. Write it ' +
      'with writes only (or as SQL), or mark it to run outside a transaction (`transactional: false`), where each ' +
      'query runs and answers at once but a failure leaves what ran before it. Nothing was applied.',
    { context: { migration: name } },
  );
}
