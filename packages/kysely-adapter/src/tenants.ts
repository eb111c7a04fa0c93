import { InvalidOptionError } from '@mig/core';
import { parseDatabaseUrl } from './connection.js';
import type { MigrationDb } from './db.js';
import { detectEngine } from './detect.js';
import type { TenantNamespaces } from './engines/driver.js';
import { DRIVERS } from './engines/registry.js';

export type { TenantNamespaces } from './engines/driver.js';

/**
 * Where this database keeps tenants apart: schemas (PostgreSQL) or databases (MySQL, MariaDB), listed by a
 * LIKE pattern, looked up and created. An engine without namespaces (SQLite: a tenant is a file, see
 * {@link tenantFiles}) is an error that says so.
 *
 * @example
 * const tenants = tenantNamespaces(db);
 * await tenants.list(db, 'tenant_%'); // ['tenant_a', 'tenant_b']
 */
export function tenantNamespaces(db: MigrationDb): TenantNamespaces {
  const { driver } = detectEngine(db);
  if (driver.tenants === undefined) {
    throw new InvalidOptionError(
      'tenants',
      `${driver.label} keeps no tenants on one connection: there, a tenant is a database of its own.`,
      { context: { reason: 'no-tenant-namespaces' } },
    );
  }
  return driver.tenants;
}

/** A database per tenant at its own URL, on an engine without namespaces (SQLite: NAME.EXT beside the file). */
export interface TenantDatabases {
  readonly kind: string;
  /** The URL of the tenant's own database. */
  url(name: string): string;
  list(pattern: string): Promise<string[]>;
  exists(name: string): Promise<boolean>;
}

/**
 * The tenants' own databases, when the engine of `url` keeps each tenant in a database at a URL of its own
 * (SQLite: a file per tenant beside the configured one); undefined when it keeps them in namespaces of one
 * database ({@link tenantNamespaces}).
 *
 * @example
 * tenantDatabases('sqlite:./data/app.db')?.url('acme'); // 'sqlite:data/acme.db'
 */
export function tenantDatabases(url: string): TenantDatabases | undefined {
  const location = parseDatabaseUrl(url);
  const files = DRIVERS[location.engine].tenantFiles;
  if (files === undefined) return undefined;
  return {
    kind: files.kind,
    url: (name) => files.url(location, name),
    list: (pattern) => files.list(location, pattern),
    exists: (name) => files.exists(location, name),
  };
}
