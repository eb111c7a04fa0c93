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
  type OpenedMigration,
  type OpenMigrationOptions,
  openMigration,
} from './open-migration.js';
export { VERSION } from './version.js';
