import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import { type HistoryTable, historyTable } from '../../foreign/reader.js';

/**
 * The quoted name to_regclass() takes: tools quote their identifiers, so a mixed-case name is stored as
 * written. Without a schema, PostgreSQL looks the table up on the search_path, as the tool did.
 */
function regclassName(schema: string | null, table: string): string {
  return schema === null ? `"${table}"` : `"${schema}"."${table}"`;
}

/** Tables (or views) found by schema and name (a null schema: on the search_path), in one query. */
export async function findPostgresTables(
  db: MigrationDb,
  candidates: readonly { readonly schema: string | null; readonly table: string }[],
): Promise<HistoryTable[]> {
  if (candidates.length === 0) return [];
  const values = candidates.map((c, order) => sql`(${order}::int, ${regclassName(c.schema, c.table)}::text)`);
  const { rows } = await sql<{ schema: string; table: string }>`
    select n.nspname as schema, c.relname as table
    from (values ${sql.join(values)}) as t(ord, name)
    join pg_catalog.pg_class c on c.oid = to_regclass(t.name)
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    order by t.ord`.execute(db);
  return rows.map((row) => historyTable(row.schema, row.table));
}
