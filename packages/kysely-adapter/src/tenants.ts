import { InvalidOptionError } from '@mig/core';
import type { MigrationDb } from './db.js';
import { detectEngine } from './detect.js';
import type { TenantNamespaces } from './engines/driver.js';

export type { TenantNamespaces } from './engines/driver.js';

/**
 * Where this database keeps tenants apart: schemas (PostgreSQL) or databases (MySQL, MariaDB), listed by a
 * LIKE pattern, looked up and created. An engine without namespaces (SQLite: a tenant is a file) is an error
 * that says so.
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
      `${driver.label} keeps no tenants on one connection: on SQLite a tenant is a file of its own (name the ` +
        'files with a pattern of paths instead).',
      { context: { reason: 'no-tenant-namespaces' } },
    );
  }
  return driver.tenants;
}
