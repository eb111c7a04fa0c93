import { sql } from 'kysely';
import { collectNames, type ForeignReader } from './reader.js';

interface PgMigrateRow {
  readonly id: number;
  readonly name: string;
}

/**
 * node-pg-migrate: `pgmigrations (id serial primary key, name varchar not null, run_on timestamp not null)`
 * in `public` (or the `schema` / `migrationsSchema` it was run with). `name` is the file name without its
 * extension; run_on is `now()`, the start of the migration's transaction, so the order it reads back is
 * run_on, then id, which is what node-pg-migrate itself uses.
 */
export const nodePgMigrateReader: ForeignReader = {
  tool: 'node-pg-migrate',
  runnable: false,
  defaultTable: 'pgmigrations',
  defaultSchema: 'public',
  systems: ['postgresql'],
  async read(db, where) {
    const { rows } = await sql<PgMigrateRow>`
      select ${sql.id('id')}, ${sql.id('name')} from ${where.ref} order by ${sql.id('run_on')}, ${sql.id('id')}`.execute(
      db,
    );
    return collectNames(
      rows.map((row) => ({ name: row.name === '' ? null : row.name, row: `row id ${row.id} of ${where.qualified}` })),
    );
  },
};
