export { type ConsoleLike, createConsoleLogger } from './console-logger.js';
export {
  type CreateDatabaseOptions,
  createDatabase,
  type DatabaseReport,
  type MigDatabase,
} from './create-database.js';
export { VERSION } from './version.js';
