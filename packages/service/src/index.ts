export type { MigrationBundle } from '@mig/kysely-adapter';
export { type ConsoleLike, createConsoleLogger } from './console-logger.js';
export {
  type CreateDatabaseOptions,
  createDatabase,
  type DatabaseReport,
  type MigDatabase,
} from './create-database.js';
export type { LintAction } from './lint-guard.js';
export {
  loadMigConfig,
  migrationOn,
  type OpenedMigration,
  type OpenedPlace,
  type OpenMigrationOptions,
  openMigration,
  type StorePlace,
} from './open-migration.js';
export { type TenantLayout, type TenantPlace, tenantLayout } from './tenant-layout.js';
export type { TenantOptions, TenantsReport } from './tenants.js';
export { VERSION } from './version.js';
