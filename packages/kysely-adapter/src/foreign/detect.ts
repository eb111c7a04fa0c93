import { type RawBuilder, sql } from 'kysely';
import type { MigrationDb } from '../db.js';
import type { EngineDriver } from '../engines/driver.js';
import { detectFailed, FOREIGN_TOOLS, type ForeignTool, type HistoryTable } from './reader.js';
import { defaultLocation, READERS, runsOn } from './readers.js';

/** Another tool's history found in a database: which tool, where, and how many migrations it applied. */
export interface FoundHistory {
  readonly tool: ForeignTool;
  readonly table: string;
  readonly applied: number;
}

/**
 * Which tools' histories exist, and are not empty, in this database at their default tables, with how many
 * rows each holds: one query when there are none (the usual case for a database mig already manages), one
 * more to count them otherwise. The engine's driver finds the tables.
 */
export async function detectForeignHistoriesWith(db: MigrationDb, driver: EngineDriver): Promise<FoundHistory[]> {
  const tools = FOREIGN_TOOLS.filter((tool) => runsOn(READERS[tool], driver.capabilities));
  const candidates = tools.map((tool) => ({ tool, ...defaultLocation(READERS[tool], driver.capabilities) }));
  try {
    // One lookup per distinct table: dbmate and golang-migrate share schema_migrations.
    const distinct = candidates.filter((c, i) => candidates.findIndex((o) => o.table === c.table) === i);
    const found = await driver.findTables(db, distinct);
    const tables: { tool: ForeignTool; where: HistoryTable }[] = [];
    for (const where of found) {
      const sharing = candidates.filter((c) => c.table === where.table);
      for (const candidate of sharing) {
        const claims = READERS[candidate.tool].claims;
        if (sharing.length === 1 || claims === undefined || (await claims(db, where))) {
          tables.push({ tool: candidate.tool, where });
          break;
        }
      }
    }
    if (tables.length === 0) return [];
    const counts = tables.map(({ tool, where }) => countRows(tool, where.ref));
    const { rows } = await sql<{
      tool: string;
      applied: number | string;
    }>`${sql.join(counts, sql` union all `)}`.execute(db);
    return tables
      .map(({ tool, where }) => ({
        tool,
        table: where.qualified,
        applied: Number(rows.find((r) => r.tool === tool)?.applied ?? 0),
      }))
      .filter((history) => history.applied > 0);
  } catch (error) {
    throw detectFailed(
      candidates.map((c) => (c.schema === null ? c.table : `${c.schema}.${c.table}`)),
      error,
    );
  }
}

/** `select 'knex' as tool, count(*) as applied from <table>`: the tool's name inlined, the same in every engine. */
function countRows(tool: ForeignTool, table: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`select ${sql.lit(tool)} as tool, count(*) as applied from ${table}`;
}
