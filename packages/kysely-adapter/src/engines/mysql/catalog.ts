import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { HistoryTable } from '../../foreign/reader.js';

/**
 * Tables found by database and name (a null schema: the connection's database), in one query, each named
 * with the database it is in.
 */
export async function findMysqlTables(
  db: MigrationDb,
  candidates: readonly { readonly schema: string | null; readonly table: string }[],
): Promise<HistoryTable[]> {
  if (candidates.length === 0) return [];
  const wanted = candidates.map(
    (c, order) =>
      sql`select ${order} as ord, coalesce(${c.schema}, database()) as db_name, ${c.table} as table_name_wanted`,
  );
  const { rows } = await sql<{ ord: number | string; schema: string; table: string }>`
    select w.ord, t.table_schema as ${sql.id('schema')}, t.table_name as ${sql.id('table')}
    from (${sql.join(wanted, sql` union all `)}) w
    join information_schema.tables t on t.table_schema = w.db_name and t.table_name = w.table_name_wanted
    order by w.ord`.execute(db);
  return rows.map((row) => {
    const named = candidates[Number(row.ord)]?.schema ?? null;
    return {
      schema: row.schema,
      table: row.table,
      qualified: `${row.schema}.${row.table}`,
      // Unqualified when the tool's table was looked up in the connection's database, as the tool reads it.
      ref: named === null ? sql.id(row.table) : sql.id(row.schema, row.table),
    };
  });
}
