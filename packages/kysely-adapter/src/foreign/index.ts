import { InvalidOptionError } from '@mig/core';
import type { MigrationDb } from '../db.js';
import { detectEngine } from '../detect.js';
import { DRIVERS, ENGINES } from '../engines/registry.js';
import { detectForeignHistoriesWith, type FoundHistory } from './detect.js';
import {
  checkIdentifier,
  type ForeignHistory,
  type ForeignHistoryOptions,
  type ForeignTool,
  type HistoryTable,
  readFailed,
} from './reader.js';
import { defaultLocation, readableOn, readerFor } from './readers.js';

export { FOREIGN_TOOLS, type ForeignHistory, type ForeignHistoryOptions, type ForeignTool } from './reader.js';

/**
 * Reads another migration tool's history: the migrations it applied, named as mig names files (without the
 * extension), in the order it applied them. Returns null when the tool's table does not exist. Never writes,
 * not even to the tool's lock table.
 *
 * Kysely's Migrator and knex: on every engine. Their tables are unqualified unless a schema is given, so they
 * are found where the tool found them (PostgreSQL's search_path, MySQL's current database, SQLite's file).
 * node-pg-migrate and Drizzle: on PostgreSQL and PGlite (node-pg-migrate's default schema is `public`,
 * Drizzle's `drizzle`); elsewhere an error that says to use a baseline. Drizzle needs `migrationsDir`, since
 * its rows are named through `meta/_journal.json`.
 *
 * @example
 * const history = await readForeignHistory(db, 'knex');
 * if (history) console.log(`${history.applied.length} migrations applied by knex, in ${history.table}`);
 *
 * const drizzle = await readForeignHistory(db, 'drizzle', { migrationsDir: './drizzle' });
 */
export async function readForeignHistory(
  db: MigrationDb,
  tool: ForeignTool,
  options: ForeignHistoryOptions = {},
): Promise<ForeignHistory | null> {
  const reader = readerFor(tool);
  const { engine, driver, capabilities } = detectEngine(db);
  if (!readableOn(reader, capabilities)) {
    const systems = reader.readableOn ?? reader.systems ?? [];
    const where = ENGINES.filter((e) => systems.includes(DRIVERS[e].capabilities.system)).join(' and ');
    throw new InvalidOptionError(
      'tool',
      `mig reads ${reader.tool}'s history on ${where} only, and this database is ${engine}. ` +
        "Record that history with mig baseline --to <the tool's last applied migration> instead.",
      { context: { tool: reader.tool, engine } },
    );
  }
  const table = options.table === undefined ? reader.defaultTable : checkIdentifier('table', options.table);
  const schema =
    options.schema === undefined
      ? defaultLocation(reader, capabilities).schema
      : checkIdentifier('schema', options.schema);
  reader.checkOptions?.(options);
  let where: HistoryTable | null;
  try {
    [where = null] = await driver.findTables(db, [{ schema, table }]);
  } catch (error) {
    throw readFailed(reader.tool, schema === null ? table : `${schema}.${table}`, error);
  }
  if (where === null) return null;
  try {
    const { applied, unmatched } = await reader.read(db, where, options);
    return Object.freeze({
      tool: reader.tool,
      table: where.qualified,
      applied: Object.freeze([...applied]),
      runnable: reader.runnable,
      unmatched: Object.freeze([...unmatched]),
    });
  } catch (error) {
    throw readFailed(reader.tool, where.qualified, error);
  }
}

/**
 * Which tools' histories exist, and are not empty, in this database, at their default tables, with how many
 * rows each holds. One query when there are none (the usual case for a database mig already manages), one more
 * to count them otherwise. For a service that finds no mig records: a database another tool migrated should
 * be adopted, not migrated again.
 *
 * @example
 * const found = await detectForeignHistories(db);
 * for (const { tool, table, applied } of found) console.warn(`${tool}: ${applied} migrations in ${table}`);
 */
export function detectForeignHistories(db: MigrationDb): Promise<FoundHistory[]> {
  return detectForeignHistoriesWith(db, detectEngine(db).driver);
}
