import { InvalidOptionError } from '@mig/core';
import { sql } from 'kysely';
import { detectEngine, type Engine } from '../engine.js';
import type { MigrationDb } from '../sources.js';
import { drizzleReader } from './drizzle.js';
import { knexReader } from './knex.js';
import { kyselyReader } from './kysely.js';
import { nodePgMigrateReader } from './node-pg-migrate.js';
import {
  checkIdentifier,
  detectFailed,
  FOREIGN_TOOLS,
  type ForeignHistory,
  type ForeignHistoryOptions,
  type ForeignReader,
  type ForeignTool,
  type HistoryTable,
  historyTable,
  locateTable,
  readFailed,
  regclassName,
} from './reader.js';

export { FOREIGN_TOOLS, type ForeignHistory, type ForeignHistoryOptions, type ForeignTool } from './reader.js';

const READERS: Readonly<Record<ForeignTool, ForeignReader>> = {
  kysely: kyselyReader,
  knex: knexReader,
  'node-pg-migrate': nodePgMigrateReader,
  drizzle: drizzleReader,
};

/** Kysely's Migrator and knex keep the same table on every engine; the others are read on PostgreSQL. */
function readsOn(tool: ForeignTool, engine: Engine): boolean {
  return engine === 'postgres' || engine === 'pglite' || tool === 'kysely' || tool === 'knex';
}

function readerFor(tool: unknown): ForeignReader {
  if (typeof tool === 'string' && (FOREIGN_TOOLS as readonly string[]).includes(tool)) {
    return READERS[tool as ForeignTool];
  }
  throw new InvalidOptionError(
    'tool',
    `Unknown migration tool ${JSON.stringify(tool)}: mig reads the history of ${FOREIGN_TOOLS.join(', ')}. Pass one of them.`,
  );
}

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
  const engine = detectEngine(db).capabilities.engine;
  if (!readsOn(reader.tool, engine)) {
    throw new InvalidOptionError(
      'tool',
      `mig reads ${reader.tool}'s history on PostgreSQL and PGlite only, and this database is ${engine}. ` +
        "Record that history with mig baseline --to <the tool's last applied migration> instead.",
      { context: { tool: reader.tool, engine } },
    );
  }
  const table = options.table === undefined ? reader.defaultTable : checkIdentifier('table', options.table);
  const schema = options.schema === undefined ? reader.defaultSchema : checkIdentifier('schema', options.schema);
  reader.checkOptions?.(options);
  let where: HistoryTable | null;
  try {
    where = await locateTable(db, schema, table, engine);
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
 * be adopted, not migrated again. PostgreSQL only, as {@link readForeignHistory}.
 *
 * @example
 * const found = await detectForeignHistories(db);
 * for (const { tool, table, applied } of found) console.warn(`${tool}: ${applied} migrations in ${table}`);
 */
export async function detectForeignHistories(
  db: MigrationDb,
): Promise<readonly { tool: ForeignTool; table: string; applied: number }[]> {
  const defaults = FOREIGN_TOOLS.map((tool) => ({
    tool,
    name: regclassName(READERS[tool].defaultSchema, READERS[tool].defaultTable),
  }));
  const candidates = defaults.map(({ tool, name }, order) => sql`(${tool}::text, ${order}::int, ${name}::text)`);
  try {
    const { rows: found } = await sql<{ tool: ForeignTool; schema: string; table: string }>`
      select t.tool, n.nspname as schema, c.relname as table
      from (values ${sql.join(candidates)}) as t(tool, ord, name)
      join pg_catalog.pg_class c on c.oid = to_regclass(t.name)
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      order by t.ord`.execute(db);
    if (found.length === 0) return [];
    const tables = found.map((row) => ({ tool: row.tool, where: historyTable(row.schema, row.table) }));
    const counts = tables.map(
      ({ tool, where }) => sql`select ${tool}::text as tool, count(*)::int as applied from ${where.ref}`,
    );
    const { rows } = await sql<{ tool: ForeignTool; applied: number }>`${sql.join(counts, sql` union all `)}`.execute(
      db,
    );
    return tables
      .map(({ tool, where }) => ({
        tool,
        table: where.qualified,
        applied: rows.find((r) => r.tool === tool)?.applied ?? 0,
      }))
      .filter((history) => history.applied > 0);
  } catch (error) {
    throw detectFailed(
      defaults.map((d) => d.name.replaceAll('"', '')),
      error,
    );
  }
}
