import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { TenantNamespaces } from '../driver.js';

/** A schema per tenant on PostgreSQL: listed, looked up and created in pg_namespace; names always quoted. */
export const postgresTenants: TenantNamespaces = {
  kind: 'schema',
  async list(db: MigrationDb, pattern: string): Promise<string[]> {
    const { rows } = await sql<{ name: string }>`
      select nspname as name from pg_catalog.pg_namespace
      where nspname like ${pattern} and nspname not like 'pg\\_%' and nspname <> 'information_schema'
      order by nspname`.execute(db);
    return rows.map((r) => r.name);
  },
  async exists(db: MigrationDb, name: string): Promise<boolean> {
    const { rows } = await sql<{ found: boolean }>`
      select exists (select 1 from pg_catalog.pg_namespace where nspname = ${name}) as found`.execute(db);
    return rows[0]?.found === true;
  },
  async create(db: MigrationDb, name: string): Promise<void> {
    await sql`create schema if not exists ${sql.id(name)}`.execute(db);
  },
};

/** `search_path` for a tenant's migrations: its schema first (quoted), then public for extensions. */
export function tenantSearchPath(schema: string): string {
  return `"${schema.replace(/"/g, '""')}", public`;
}
