import { MigError, MigErrorCode } from '@mig/core';
import { sql } from 'kysely';
import type { MigrationDb } from '../db.js';
import { collectNames, type ForeignReader, type HistoryTable, type NamedRow } from './reader.js';
import { localVersions, requireFolder, versionKey } from './versions.js';

// dbmate and golang-migrate both keep a table named schema_migrations: dbmate one row per applied version,
// golang-migrate one row for the current version, with a `dirty` flag. The `dirty` column tells them apart.

/** Whether the table has golang-migrate's `dirty` column (one query that reads no row). */
export async function hasDirtyColumn(db: MigrationDb, where: HistoryTable): Promise<boolean> {
  try {
    await sql`select ${sql.id('dirty')} from ${where.ref} where 1 = 0`.execute(db);
    return true;
  } catch {
    return false;
  }
}

function named(files: Map<string, string>, version: unknown, row: string, where: HistoryTable): NamedRow {
  const name = files.get(versionKey(version) ?? '');
  return {
    name: name ?? null,
    row,
    why: name
      ? undefined
      : `Version ${String(version)} is applied in ${where.qualified} but no file of the migrations folder has that version.`,
  };
}

/**
 * dbmate: `schema_migrations (version varchar(128) primary key)`, one row per applied migration, the version
 * being the digits that start the file's name; dbmate applies in version order.
 */
export const dbmateReader: ForeignReader = {
  tool: 'dbmate',
  runnable: true,
  defaultTable: 'schema_migrations',
  defaultSchema: null,
  checkOptions: (options) => requireFolder(options, 'dbmate'),
  claims: async (db, where) => !(await hasDirtyColumn(db, where)),
  async read(db, where, options) {
    if (await hasDirtyColumn(db, where)) {
      throw new MigError(
        MigErrorCode.InvalidOption,
        `${where.qualified} has a "dirty" column: it is golang-migrate's history, not dbmate's. Adopt it with --from golang-migrate.`,
        { context: { table: where.qualified } },
      );
    }
    const { rows } = await sql<{ version: string }>`select ${sql.id('version')} from ${where.ref}`.execute(db);
    const files = localVersions(options, 'dbmate');
    const ordered = [...rows].sort((a, b) => {
      const x = BigInt(versionKey(a.version) ?? '0');
      const y = BigInt(versionKey(b.version) ?? '0');
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return collectNames(
      ordered.map((r) => named(files, r.version, `the row "${r.version}" of ${where.qualified}`, where)),
    );
  },
};

/**
 * golang-migrate: `schema_migrations (version bigint not null primary key, dirty boolean not null)`, one row
 * holding the version the database is at: every migration up to it is applied, in version order. A dirty
 * row means a migration failed halfway, and golang-migrate itself refuses to go on until someone fixed the
 * database and forced the version: mig refuses to adopt it for the same reason.
 */
export const golangMigrateReader: ForeignReader = {
  tool: 'golang-migrate',
  runnable: true,
  defaultTable: 'schema_migrations',
  defaultSchema: null,
  checkOptions: (options) => requireFolder(options, 'golang-migrate'),
  claims: (db, where) => hasDirtyColumn(db, where),
  async read(db, where, options) {
    const { rows } = await sql<{ version: number | string; dirty: boolean | number }>`
      select ${sql.id('version')}, ${sql.id('dirty')} from ${where.ref}`.execute(db);
    if (rows.length === 0) return { applied: [], unmatched: [] };
    if (rows.length > 1) {
      return { applied: [], unmatched: [`${where.qualified} holds ${rows.length} rows; golang-migrate keeps one.`] };
    }
    const [row] = rows as [{ version: number | string; dirty: boolean | number }];
    if (row.dirty === true || row.dirty === 1) {
      throw new MigError(
        MigErrorCode.InvalidOption,
        `golang-migrate's history (${where.qualified}) is dirty at version ${row.version}: that migration failed ` +
          'halfway, so what it left in the database is unknown, and golang-migrate refuses to go on from it too. ' +
          `Fix the database by hand, then run \`migrate force <version>\` with the last version that is fully applied, ` +
          'and adopt again. Nothing was recorded.',
        { context: { table: where.qualified, version: String(row.version) } },
      );
    }
    const at = BigInt(versionKey(row.version) ?? '0');
    const files = localVersions(options, 'golang-migrate');
    const applied = [...files.entries()]
      .filter(([version]) => BigInt(version) <= at)
      .sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1))
      .map(([, name]) => ({ name, row: `version ${row.version} of ${where.qualified}` }));
    const unmatched =
      files.has(at.toString()) || at === 0n
        ? []
        : [
            `Version ${row.version} is the current one in ${where.qualified} but no file of the migrations folder has that version.`,
          ];
    const result = collectNames(applied);
    return { applied: result.applied, unmatched: [...result.unmatched, ...unmatched] };
  },
};
