import type { ForeignHistorySummary } from '@mig/core';
import { sql } from 'kysely';
import type { MigrationDb } from '../sources.js';

/** Other tools' history tables as they name them on SQLite by default. */
const SQLITE_HISTORIES = [
  { tool: 'kysely', table: 'kysely_migration' },
  { tool: 'knex', table: 'knex_migrations' },
  { tool: 'drizzle', table: '__drizzle_migrations' },
] as const;

/**
 * Which other tools' histories exist in this SQLite database, and are not empty, at their default tables,
 * with how many rows each holds: a database another tool migrated is adopted, not migrated again. One query
 * when there are none.
 */
export async function foreignHistoriesOnSqlite(db: MigrationDb): Promise<readonly ForeignHistorySummary[]> {
  const names = SQLITE_HISTORIES.map((h) => h.table);
  const { rows } = await sql<{ name: string }>`
    select name from sqlite_master where type = 'table' and name in (${sql.join(names)})`.execute(db);
  const found: ForeignHistorySummary[] = [];
  for (const { tool, table } of SQLITE_HISTORIES) {
    if (!rows.some((r) => r.name === table)) continue;
    const counted = await sql<{ applied: number }>`select count(*) as applied from ${sql.id(table)}`.execute(db);
    const applied = Number(counted.rows[0]?.applied ?? 0);
    if (applied > 0) found.push({ tool, table, applied });
  }
  return found;
}
