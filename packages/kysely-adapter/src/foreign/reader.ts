import { InvalidOptionError, isMigError, MigError, MigErrorCode } from '@mig/core';
import { describeThrown } from '@mig/core/adapter';
import { type RawBuilder, sql } from 'kysely';
import type { MigrationDb } from '../db.js';

/** The migration tools whose history mig can read (and adopt). */
export const FOREIGN_TOOLS = [
  'kysely',
  'knex',
  'node-pg-migrate',
  'drizzle',
  'prisma',
  'goose',
  'dbmate',
  'golang-migrate',
  'flyway',
] as const;
export type ForeignTool = (typeof FOREIGN_TOOLS)[number];

export interface ForeignHistoryOptions {
  /**
   * The tool's history table and schema when the user renamed them (Kysely's `migrationTableName` /
   * `migrationTableSchema`, knex's `tableName` / `schemaName`, node-pg-migrate's `migrationsTable` /
   * `migrationsSchema`, Drizzle's `migrationsTable` / `migrationsSchema`). Defaults: the tool's own.
   */
  readonly table?: string | undefined;
  readonly schema?: string | undefined;
  /**
   * The migrations folder. Drizzle's history is matched through its `meta/_journal.json` there, so it is
   * required for Drizzle, and for goose, dbmate and golang-migrate, whose tables record versions that are
   * named through the files' names (relative paths resolve against the current directory).
   */
  readonly migrationsDir?: string | undefined;
}

export interface ForeignHistory {
  readonly tool: ForeignTool;
  /** Where it was read, e.g. "public.kysely_migration" (for messages). */
  readonly table: string;
  /** The applied migrations as mig names them (a file's name without its extension), in the order the tool applied them. */
  readonly applied: readonly string[];
  /**
   * mig can run these files' `up`/`down` itself: true for Kysely (its migrations take a Kysely instance, as
   * mig's do); false for knex, node-pg-migrate and Drizzle (other APIs: adopted for their history only).
   */
  readonly runnable: boolean;
  /** Recorded entries that could not be mapped to a name, each as a sentence saying what it is. */
  readonly unmatched: readonly string[];
}

/** A history table found in the database. */
export interface HistoryTable {
  readonly schema: string;
  readonly table: string;
  /** "schema.table", for messages. */
  readonly qualified: string;
  /** The quoted, schema-qualified table for SQL. */
  readonly ref: RawBuilder<unknown>;
}

/** What a reader found: names in the order the tool applied them, and the rows it could not name. */
export interface ReadResult {
  readonly applied: readonly string[];
  readonly unmatched: readonly string[];
}

/** How one tool keeps its history: where by default, and how to turn its rows into mig's names. */
export interface ForeignReader {
  readonly tool: ForeignTool;
  readonly runnable: boolean;
  /**
   * The systems (`db.system.name`) the tool runs on, where its table is looked for; undefined for every
   * one mig runs on.
   */
  readonly systems?: readonly string[] | undefined;
  /** Where mig reads (and adopts) the tool's history, when narrower than `systems`. */
  readonly readableOn?: readonly string[] | undefined;
  readonly defaultTable: string;
  /**
   * The tool's schema, or null when the tool leaves its table unqualified (Kysely, knex): PostgreSQL then
   * finds it through the search_path, and so does the reader.
   */
  readonly defaultSchema: string | null;
  /**
   * When two tools use the same table name (dbmate's and golang-migrate's schema_migrations): whether the
   * table found is this tool's. Undefined: it is.
   */
  claims?(db: MigrationDb, where: HistoryTable): Promise<boolean>;
  /** Checks the options this tool needs beyond table and schema; throws before any query. */
  checkOptions?(options: ForeignHistoryOptions): void;
  read(db: MigrationDb, where: HistoryTable, options: ForeignHistoryOptions): Promise<ReadResult>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A table or schema name given by the user, checked before it goes into SQL. */
export function checkIdentifier(option: 'table' | 'schema', value: unknown): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new InvalidOptionError(
      option,
      `Invalid ${option} name ${JSON.stringify(value)} for another tool's history: use letters, digits and underscores, ` +
        'starting with a letter or underscore, at most 63 characters (the name the tool was configured with).',
    );
  }
  return value;
}

export function historyTable(schema: string | null, table: string): HistoryTable {
  return schema === null
    ? { schema: '', table, qualified: table, ref: sql.id(table) }
    : { schema, table, qualified: `${schema}.${table}`, ref: sql.id(schema, table) };
}

/** A read of another tool's table failed: which tool, which table, why, and what to check. */
export function readFailed(tool: ForeignTool, where: string, error: unknown): MigError {
  if (isMigError(error)) return error;
  return new MigError(
    MigErrorCode.Store,
    `mig could not read ${tool}'s migration history in ${where}: ${describeThrown(error)}. ` +
      `Check that ${where} is the table ${tool} keeps its history in (pass its table and schema if they were renamed) ` +
      'and that this database user may read it.',
    { cause: error, context: { tool, table: where } },
  );
}

/** Looking for the tools' tables failed. */
export function detectFailed(tables: readonly string[], error: unknown): MigError {
  if (isMigError(error)) return error;
  return new MigError(
    MigErrorCode.Store,
    `mig could not look for other migration tools' histories (${tables.join(', ')}): ${describeThrown(error)}. ` +
      'Check that this database user may read those tables.',
    { cause: error, context: { tables } },
  );
}

/** One recorded row turned into a name, or null with the reason it has none. */
export interface NamedRow {
  readonly name: string | null;
  /** Which row, for messages: "row id 4 of public.knex_migrations". */
  readonly row: string;
  /** Why a row has no name, as a sentence; default: it has none. */
  readonly why?: string | undefined;
}

/**
 * Names in order, each once. A row without a name, or naming a migration recorded before, goes to
 * `unmatched` with a sentence saying so.
 */
export function collectNames(rows: readonly NamedRow[]): ReadResult {
  const applied: string[] = [];
  const first = new Map<string, string>();
  const unmatched: string[] = [];
  for (const row of rows) {
    if (row.name === null) {
      unmatched.push(row.why ?? `${capitalise(row.row)} has no name.`);
      continue;
    }
    const earlier = first.get(row.name);
    if (earlier === undefined) {
      first.set(row.name, row.row);
      applied.push(row.name);
    } else {
      unmatched.push(`${capitalise(row.row)} records "${row.name}" a second time (first in ${earlier}).`);
    }
  }
  return { applied, unmatched };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
