import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { TenantNamespaces } from '../driver.js';

/** The server's own databases: never a tenant's. */
const SYSTEM = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** A database per tenant on MySQL and MariaDB: listed and looked up in information_schema; names always quoted. */
export const mysqlTenants: TenantNamespaces = {
  kind: 'database',
  async list(db: MigrationDb, pattern: string): Promise<string[]> {
    const { rows } = await sql<{ name: string }>`
      select schema_name as name from information_schema.schemata
      where schema_name like ${pattern} and schema_name not in (${sql.join(SYSTEM)})
      order by schema_name`.execute(db);
    return rows.map((r) => r.name);
  },
  async exists(db: MigrationDb, name: string): Promise<boolean> {
    const { rows } = await sql<{ found: number | string }>`
      select count(*) as found from information_schema.schemata where schema_name = ${name}`.execute(db);
    return Number(rows[0]?.found ?? 0) > 0;
  },
  async create(db: MigrationDb, name: string): Promise<void> {
    await sql`create database if not exists ${sql.id(name)}`.execute(db);
  },
};

/** `USE` of a quoted database name. */
export function useDatabase(name: string): string {
  return `use \`${name.replace(/`/g, '``')}\``;
}
