import { sql } from 'kysely';
import { collectNames, type ForeignReader } from './reader.js';

interface KnexRow {
  readonly id: number;
  readonly name: string | null;
}

/**
 * The script extensions knex loads migrations from (its default `loadExtensions`, plus the module forms a
 * project may add): knex records the file name with its extension, mig names a file without it.
 */
const KNEX_EXTENSIONS = [
  '.js',
  '.cjs',
  '.mjs',
  '.ts',
  '.cts',
  '.mts',
  '.co',
  '.coffee',
  '.eg',
  '.iced',
  '.litcoffee',
  '.ls',
];

export function stripKnexExtension(name: string): string {
  const extension = KNEX_EXTENSIONS.find((ext) => name.endsWith(ext) && name.length > ext.length);
  return extension === undefined ? name : name.slice(0, -extension.length);
}

/**
 * knex: `knex_migrations (id serial, name varchar, batch int, migration_time timestamptz)`, unqualified
 * unless `schemaName` is set. `name` is the file name with its extension ("20240101_users.js"); knex lists
 * what it applied by `id`.
 */
export const knexReader: ForeignReader = {
  tool: 'knex',
  runnable: false,
  defaultTable: 'knex_migrations',
  defaultSchema: null,
  async read(db, where) {
    const { rows } =
      await sql<KnexRow>`select ${sql.id('id')}, ${sql.id('name')} from ${where.ref} order by ${sql.id('id')}`.execute(
        db,
      );
    return collectNames(
      rows.map((row) => ({
        name: row.name === null || row.name === '' ? null : stripKnexExtension(row.name),
        row: `row id ${row.id} of ${where.qualified}`,
      })),
    );
  },
};
