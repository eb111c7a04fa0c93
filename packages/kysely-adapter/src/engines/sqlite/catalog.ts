import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import { type HistoryTable, historyTable } from '../../foreign/reader.js';

/** Tables (or views) found by name in the file, in one query; SQLite has no schemas. */
export async function findSqliteTables(
  db: MigrationDb,
  candidates: readonly { readonly schema: string | null; readonly table: string }[],
): Promise<HistoryTable[]> {
  if (candidates.length === 0) return [];
  const names = candidates.map((c) => c.table);
  const { rows } = await sql<{ name: string }>`
    select name from sqlite_master where type in ('table', 'view') and name in (${sql.join(names)})`.execute(db);
  return names.filter((name) => rows.some((r) => r.name === name)).map((name) => historyTable(null, name));
}
