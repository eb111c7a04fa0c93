import { sql } from 'kysely';
import { collectNames, type ForeignReader, type NamedRow } from './reader.js';
import { localVersions, requireFolder, versionKey } from './versions.js';

interface GooseRow {
  readonly id: number;
  readonly version_id: number | string;
  readonly is_applied: boolean | number;
}

/**
 * goose: `goose_db_version (id serial primary key, version_id bigint not null, is_applied boolean not null,
 * tstamp timestamp default now())`, one row per up or down, and a first row of version 0. As goose reads it,
 * the newest row of a version decides: applied, or rolled back. Versions are named through the folder's
 * files (`00001_users.sql` is version 1); in the order goose applied them.
 */
export const gooseReader: ForeignReader = {
  tool: 'goose',
  runnable: true,
  defaultTable: 'goose_db_version',
  defaultSchema: null,
  checkOptions: (options) => requireFolder(options, 'goose'),
  async read(db, where, options) {
    const { rows } = await sql<GooseRow>`
      select ${sql.id('id')}, ${sql.id('version_id')}, ${sql.id('is_applied')} from ${where.ref} order by ${sql.id('id')}`.execute(
      db,
    );
    const files = localVersions(options, 'goose');
    const latest = new Map<string, GooseRow>();
    for (const row of rows) {
      const key = versionKey(row.version_id) ?? String(row.version_id);
      latest.delete(key);
      latest.set(key, row);
    }
    const named: NamedRow[] = [];
    for (const [key, row] of [...latest.entries()].sort((a, b) => a[1].id - b[1].id)) {
      if (key === '0' || !row.is_applied) continue;
      const name = files.get(key);
      named.push({
        name: name ?? null,
        row: `row id ${row.id} of ${where.qualified}`,
        why: name
          ? undefined
          : `Version ${row.version_id} is applied in ${where.qualified} but no file of the migrations folder has that version.`,
      });
    }
    return collectNames(named);
  },
};
