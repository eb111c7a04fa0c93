import { MigError, MigErrorCode } from '@mig/core';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Driver,
  Kysely,
  type QueryResult,
} from 'kysely';
import type { MigrationDb } from './db.js';

/** Where captured queries go, for the refusal's words. */
export interface CaptureTarget {
  /** The engine, as people call it: "D1", "Neon's HTTP mode". */
  readonly engine: string;
  /** What carries the migration with its record: "one batch", "one transaction request". */
  readonly carrier: string;
  /** Another way out, where the engine has one (a sentence). */
  readonly instead?: string | undefined;
}

const D1: CaptureTarget = { engine: 'D1', carrier: 'one batch' };

/**
 * Runs a code migration against a Kysely instance that sends nothing: its queries are compiled (by `db`'s own
 * compiler) and kept, in order, to go into the migration's batch with its record. An engine without
 * interactive transactions (D1, Neon's HTTP mode) has no transaction that could hold them while the code
 * runs, so a migration cannot see what its own queries return there: a query whose rows it could read (a
 * SELECT, a RETURNING, an introspection) and a transaction of its own are refused before anything is sent,
 * with what to do instead.
 */
export async function captureQueries(
  db: MigrationDb,
  name: string,
  run: (db: MigrationDb) => Promise<void>,
  target: CaptureTarget = D1,
): Promise<CompiledQuery[]> {
  const captured: CompiledQuery[] = [];
  const executor = db.getExecutor();
  const adapter = executor.adapter;
  const capturing = new Kysely({
    dialect: {
      // The same adapter: mig's marks on it (the engine, the binding) hold for this instance too.
      createAdapter: () => adapter,
      createDriver: () => new CapturingDriver(name, captured, target),
      createQueryCompiler: () => ({ compileQuery: (node, queryId) => executor.compileQuery(node, queryId) }),
      createIntrospector: () => refusingIntrospector(name, target),
    },
  });
  await run(capturing);
  return captured;
}

/** Introspection reads the catalog: refused like any other read. */
function refusingIntrospector(name: string, target: CaptureTarget): DatabaseIntrospector {
  const refuse = async (): Promise<never> => {
    throw refused(name, 'it reads the schema (introspection)', target);
  };
  return { getSchemas: refuse, getTables: refuse, getMetadata: refuse };
}

class CapturingDriver implements Driver {
  readonly #connection: DatabaseConnection;
  readonly #name: string;
  readonly #target: CaptureTarget;

  constructor(name: string, captured: CompiledQuery[], target: CaptureTarget) {
    this.#name = name;
    this.#target = target;
    this.#connection = {
      async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        const reason = readsRows(query);
        if (reason !== undefined) throw refused(name, reason, target);
        captured.push(query);
        return { rows: [] };
      },
      // biome-ignore lint/correctness/useYield: it refuses before it could yield.
      async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
        throw refused(name, 'it streams rows', target);
      },
    };
  }

  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }
  async beginTransaction(): Promise<void> {
    throw refused(
      this.#name,
      `it opens a transaction of its own (mig runs it in ${this.#target.carrier} already)`,
      this.#target,
    );
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
  if (/^(select|values|explain|show|table)\b/.test(text)) return 'it reads rows (a SELECT)';
  if (/^pragma\b/.test(text) && !text.includes('=')) return 'it reads rows (a PRAGMA that answers)';
  if (/\breturning\b/.test(text)) return 'it reads rows back (RETURNING)';
  return undefined;
}

function refused(name: string, reason: string, target: CaptureTarget): MigError {
  const { engine, carrier, instead } = target;
  return new MigError(
    MigErrorCode.InvalidOption,
    `Migration "${name}" cannot run on ${engine} as written: ${reason}. On ${engine} a code migration's queries ` +
      `are sent in ${carrier} with its record, after its code has run, so the code never sees what they return. ` +
      'Write it with writes only (or as SQL), or mark it to run outside a transaction (`transactional: false`), ' +
      `where each query runs and answers at once but a failure leaves what ran before it.${instead ? ` ${instead}` : ''} ` +
      'Nothing was applied.',
    { context: { migration: name } },
  );
}
