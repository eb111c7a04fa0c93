import type { Leftover } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import { firstLine, type SqlStatement } from '../../sql/statement.js';
import type { StoreTables } from '../../tables.js';
import { utcText } from './fence.js';

// How far a migration that runs statement by statement got, kept where the next run can read it: MySQL
// commits each DDL statement, so a run stopped in the middle (a signal, a kill, a lost connection) leaves
// some statements in effect, and the next run of the same migration fails on them ("Table … already
// exists"). With this marker, that failure (and `mig status`) says what the earlier run left. It is a row of
// the lock table, under its own key beside the lease's: the migration, how many statements took effect and
// when it started; it goes when the migration is recorded.

/** What an earlier run of a migration left: how many of its statements took effect, and when it started. */
export interface EarlierRun {
  readonly migration: string;
  readonly done: number;
  readonly startedAt: string;
}

function markerKey(tables: StoreTables): string {
  return `${tables.qualified}#progress`;
}

/** The marker an earlier run left, if any (inside the caller's transaction, which holds the head's row lock). */
export async function readProgress(conn: MigrationDb, tables: StoreTables): Promise<EarlierRun | undefined> {
  const { rows } = await sql<{ owner: string | null; token: string | number; started: string }>`
    select owner, token, ${utcText('acquired_at')} as started from ${tables.lock}
    where ${sql.ref('key')} = ${markerKey(tables)}`.execute(conn);
  const row = rows[0];
  return row?.owner ? { migration: row.owner, done: Number(row.token), startedAt: row.started } : undefined;
}

/**
 * Marks `migration` as started, with nothing done yet; an earlier run's marker of the same migration keeps its
 * count and start (its statements are still in effect), another migration's is replaced.
 */
export async function startProgress(conn: MigrationDb, tables: StoreTables, migration: string): Promise<void> {
  await sql`
    insert into ${tables.lock} (${sql.ref('key')}, owner, token, acquired_at, expires_at)
    values (${markerKey(tables)}, ${migration}, 0, utc_timestamp(6), utc_timestamp(6))
    on duplicate key update
      token = if(owner = values(owner), token, 0),
      acquired_at = if(owner = values(owner), acquired_at, values(acquired_at)),
      owner = values(owner), expires_at = values(expires_at)`.execute(conn);
}

/** `done` statements of the marked migration took effect. */
export async function advanceProgress(conn: MigrationDb, tables: StoreTables, done: number): Promise<void> {
  await sql`
    update ${tables.lock} set token = greatest(token, ${done}), expires_at = utc_timestamp(6)
    where ${sql.ref('key')} = ${markerKey(tables)}`.execute(conn);
}

/** The migration is recorded: nothing is left to say (in the record's transaction). */
export async function clearProgress(conn: MigrationDb, tables: StoreTables): Promise<void> {
  await sql`delete from ${tables.lock} where ${sql.ref('key')} = ${markerKey(tables)}`.execute(conn);
}

/** What an earlier run of this very migration left, in a sentence for the next run's failure. */
export function describeEarlierRun(
  earlier: EarlierRun | undefined,
  migration: string,
  statements?: readonly SqlStatement[],
): string | undefined {
  if (earlier === undefined || earlier.migration !== migration) return undefined;
  if (earlier.done === 0) {
    return `An earlier run of it, started ${earlier.startedAt}, was stopped before its first statement took effect`;
  }
  const last = statements?.[earlier.done - 1];
  const upTo = last ? ` (up to line ${last.line}: "${firstLine(last.text, 60)}")` : '';
  return (
    `An earlier run of it, started ${earlier.startedAt}, was stopped after ${earlier.done} statement(s) had taken ` +
    `effect${upTo}, and was never recorded: that is what is in the way now`
  );
}

/** A migration's earlier, unfinished run, as `mig status` lists it. */
export function progressLeftover(earlier: EarlierRun, migration: string): Leftover {
  return {
    migration,
    kind: 'unfinished run',
    object: `${earlier.done} statement(s) in effect, from a run started ${earlier.startedAt}`,
    remove: 'undo what those statements did, or make them safe to run again (IF NOT EXISTS, IF EXISTS)',
    removedOnRerun: false,
  };
}
