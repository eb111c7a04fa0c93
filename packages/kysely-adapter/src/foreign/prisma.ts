import { sql } from 'kysely';
import { collectNames, type ForeignReader } from './reader.js';

interface PrismaRow {
  readonly id: string;
  readonly migration_name: string;
  readonly finished_at: unknown;
  readonly rolled_back_at: unknown;
}

/**
 * Prisma Migrate: `_prisma_migrations (id varchar(36) primary key, checksum varchar(64), finished_at,
 * migration_name varchar(255), logs text, rolled_back_at, started_at default now(), applied_steps_count)`,
 * in the connection's schema. `migration_name` is the folder's name, as mig names it. A migration is applied
 * when it finished and was not rolled back; a row that never finished is a failed migration, which Prisma
 * itself refuses to go past (`prisma migrate resolve`), and is named as such. Ordered by started_at, as
 * Prisma lists them.
 */
export const prismaReader: ForeignReader = {
  tool: 'prisma',
  runnable: true,
  defaultTable: '_prisma_migrations',
  defaultSchema: null,
  async read(db, where) {
    const { rows } = await sql<PrismaRow>`
      select ${sql.id('id')}, ${sql.id('migration_name')}, ${sql.id('finished_at')}, ${sql.id('rolled_back_at')}
      from ${where.ref} order by ${sql.id('started_at')}, ${sql.id('migration_name')}`.execute(db);
    const live = rows.filter((row) => row.rolled_back_at === null);
    return collectNames(
      live.map((row) =>
        row.finished_at === null
          ? {
              name: null,
              row: `the row "${row.migration_name}" of ${where.qualified}`,
              why:
                `"${row.migration_name}" failed under Prisma and is neither finished nor rolled back (${where.qualified}): ` +
                'resolve it first (prisma migrate resolve --applied or --rolled-back), then adopt.',
            }
          : {
              name: row.migration_name === '' ? null : row.migration_name,
              row: `the row "${row.migration_name}" of ${where.qualified}`,
            },
      ),
    );
  },
};
