import { sql } from 'kysely';
import { collectNames, type ForeignReader, type NamedRow } from './reader.js';

interface FlywayRow {
  readonly installed_rank: number;
  readonly version: string | null;
  readonly type: string;
  readonly script: string;
  readonly success: boolean | number;
}

/**
 * Flyway: `flyway_schema_history (installed_rank int primary key, version varchar(50), description
 * varchar(200), type varchar(20), script varchar(1000), checksum int, installed_by, installed_on,
 * execution_time int, success boolean)`, in the connection's schema. `script` is the file's name
 * (`V1.2__users.sql`), as mig names it without `.sql`; rows in installed_rank order. An undo row (`UNDO_SQL`)
 * takes its version back; a failed row, a baseline and repeatable migrations are named, not adopted.
 */
export const flywayReader: ForeignReader = {
  tool: 'flyway',
  runnable: true,
  defaultTable: 'flyway_schema_history',
  defaultSchema: null,
  async read(db, where) {
    const { rows } = await sql<FlywayRow>`
      select ${sql.id('installed_rank')}, ${sql.id('version')}, ${sql.id('type')}, ${sql.id('script')}, ${sql.id('success')}
      from ${where.ref} order by ${sql.id('installed_rank')}`.execute(db);
    const live = new Map<string, NamedRow>();
    const other: NamedRow[] = [];
    for (const row of rows) {
      const label = `rank ${row.installed_rank} of ${where.qualified}`;
      const ok = row.success === true || row.success === 1;
      if (row.type === 'SCHEMA' || row.type === 'DELETE') continue;
      if (!ok) {
        other.push({
          name: null,
          row: label,
          why: `${row.script} failed under Flyway (${label}): run flyway repair, or fix it, before adopting.`,
        });
      } else if (row.type === 'UNDO_SQL' || row.type === 'UNDO_JDBC') {
        live.delete(row.version ?? '');
      } else if (row.type === 'BASELINE') {
        other.push({
          name: null,
          row: label,
          why: `Flyway baselined this database at version ${row.version} (${label}): record that with mig baseline --to <its migration> first, then adopt.`,
        });
      } else if (row.version === null) {
      } else if (row.type !== 'SQL') {
        other.push({ name: null, row: label, why: `${row.script} is a ${row.type} migration, which mig cannot run.` });
      } else {
        live.set(row.version, { name: row.script.replace(/^.*\//, '').replace(/\.sql$/, ''), row: label });
      }
    }
    return collectNames([...other, ...live.values()]);
  },
};
