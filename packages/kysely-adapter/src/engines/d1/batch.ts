import { lockLost, type StoreHead } from '@mig/core/adapter';
import { type CompiledQuery, type RawBuilder, sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { KyselyFence } from '../../fence.js';
import type { StoreTables } from '../../tables.js';
import { SQLITE_NOW } from '../sqlite/sql.js';
import type { D1DatabaseLike, D1ResultLike, D1StatementLike } from './binding.js';

// D1 has no interactive transaction: what must commit together goes in one `batch()`, which D1 runs as one
// SQL transaction. mig's checks (the head where the run expects it, the lease still held, the latest record
// for a revert) are statements of that batch too, placed first. SQLite cannot raise an error outside a
// trigger, so a check is an INSERT into an always-empty guard table whose named CHECK constraint the row
// violates exactly when the condition fails: the batch then fails as a whole, and the constraint's name
// in D1's error says which check it was.

/** The checks a batch can fail, by the name of their constraint on the guard table. */
export const GUARDS = Object.freeze({
  conflict: 'mig_conflict',
  lockLost: 'mig_lock_lost',
  notLatest: 'mig_not_latest',
  /** Always fails: ends a batch sent only to see how far its statements get (nothing of it commits). */
  rehearsal: 'mig_rehearsal',
} as const);

export type GuardName = keyof typeof GUARDS;

/** The guard table: never holds a row (every row it could get violates one of its constraints). */
export function guardTable(tables: StoreTables): RawBuilder<unknown> {
  return sql.id(`${tables.table}_guard`);
}

/** Creates the guard table; idempotent. */
export function createGuardTable(tables: StoreTables): RawBuilder<unknown> {
  const checks = Object.entries(GUARDS).map(
    ([guard, name]) => sql`constraint ${sql.id(name)} check (failed <> ${sql.lit(guard)})`,
  );
  return sql`create table if not exists ${guardTable(tables)} (failed text not null, ${sql.join(checks)})`;
}

/** Fails the batch with CONFLICT unless the head is `expected`. */
export function headGuard(tables: StoreTables, expected: StoreHead): RawBuilder<unknown> {
  return sql`
    insert into ${guardTable(tables)} (failed) select ${sql.lit('conflict')}
    where not exists (select 1 from ${tables.head}
                      where id = 1 and applied_count = ${expected.count} and digest = ${expected.digest})`;
}

/**
 * Fails the batch with LOCK_LOST unless the lease of `fence` is still held (its token, not expired by D1's
 * clock). D1 runs one batch at a time, so nobody can take the lease over while the rest of the batch runs.
 */
export function fenceGuard(tables: StoreTables, fence: KyselyFence): RawBuilder<unknown> | undefined {
  if (fence === undefined) return undefined;
  if (fence.kind !== 'lease') {
    throw lockLost.notHeldBySession(fence.key, 'a D1 store can only be fenced by the lease lock');
  }
  return sql`
    insert into ${guardTable(tables)} (failed) select ${sql.lit('lockLost')}
    where not exists (select 1 from ${tables.lock}
                      where key = ${fence.key} and token = ${Number(fence.token)} and expires_at > ${SQLITE_NOW})`;
}

/** Fails the batch unless `name` is the latest record (a revert goes in reverse order). */
export function latestGuard(tables: StoreTables, name: string): RawBuilder<unknown> {
  return sql`
    insert into ${guardTable(tables)} (failed) select ${sql.lit('notLatest')}
    where (select name from ${tables.records} order by id desc limit 1) is not ${name}`;
}

/** Fails every batch it ends, so that nothing before it commits. */
export function rehearsalEnd(tables: StoreTables): RawBuilder<unknown> {
  return sql`insert into ${guardTable(tables)} (failed) values (${sql.lit('rehearsal')})`;
}

/** The check a failed batch failed, if one did (D1 reports the constraint: "CHECK constraint failed: mig_conflict"). */
export function failedGuard(error: unknown): GuardName | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const message = String((e as { message?: unknown }).message ?? '');
    for (const [guard, name] of Object.entries(GUARDS) as [GuardName, string][]) {
      if (message.includes(`CHECK constraint failed: ${name}`)) return guard;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A query as D1 takes it: its SQL and values, compiled by the store's Kysely instance. */
export type D1Query = RawBuilder<unknown> | CompiledQuery | string;

/** Sends `queries` as one batch: all of them take effect, or none. Returns each statement's rows. */
export async function runBatch(
  database: D1DatabaseLike,
  db: MigrationDb,
  queries: readonly D1Query[],
): Promise<readonly D1ResultLike[]> {
  return database.batch(queries.map((q) => prepared(database, db, q)));
}

/** One statement on its own (D1 commits it at once). */
export async function runOne(database: D1DatabaseLike, db: MigrationDb, query: D1Query): Promise<D1ResultLike> {
  return prepared(database, db, query).all();
}

function prepared(database: D1DatabaseLike, db: MigrationDb, query: D1Query): D1StatementLike {
  const compiled =
    typeof query === 'string' ? { sql: query, parameters: [] } : 'compile' in query ? query.compile(db) : query;
  const statement = database.prepare(compiled.sql);
  return compiled.parameters.length === 0 ? statement : statement.bind(...compiled.parameters.map(toD1Value));
}

/** D1 binds strings, numbers, null and bytes: booleans as 0/1 (as SQLite stores them), bigints as numbers. */
function toD1Value(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  if (value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  return value;
}
