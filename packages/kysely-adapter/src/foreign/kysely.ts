import { sql } from 'kysely';
import { collectNames, type ForeignReader } from './reader.js';

interface KyselyRow {
  readonly name: string;
  readonly timestamp: string;
}

/**
 * Kysely's Migrator: `kysely_migration (name varchar primary key, timestamp varchar)`, the timestamp an ISO
 * string written as each migration ran, unqualified unless `migrationTableSchema` is set. Names are stored
 * without the extension (its FileMigrationProvider strips it), as mig names files.
 */
export const kyselyReader: ForeignReader = {
  tool: 'kysely',
  runnable: true,
  defaultTable: 'kysely_migration',
  defaultSchema: null,
  async read(db, where) {
    const { rows } = await sql<KyselyRow>`select ${sql.id('name')}, ${sql.id('timestamp')} from ${where.ref}`.execute(
      db,
    );
    // Kysely's own order (its #getExecutedMigrations): by the time each ran, then by name with its default
    // comparator. Sorted here rather than in SQL so that timestamps written in another ISO form sort as dates.
    const ordered = [...rows].sort((a, b) => {
      if (a.timestamp === b.timestamp) return a.name.localeCompare(b.name);
      return Date.parse(a.timestamp) - Date.parse(b.timestamp);
    });
    return collectNames(
      ordered.map((row) => ({
        name: row.name === '' ? null : row.name,
        row: `the row "${row.name}" of ${where.qualified}`,
      })),
    );
  },
};
