export { createKyselyAdapter, type KyselyAdapter, type KyselyLockOptions } from './adapter.js';
export {
  type DatabaseLocation,
  describeConnection,
  describeWhere,
  parseDatabaseUrl,
  URL_FORMS,
} from './connection.js';
export { ENGINES, type Engine, type EngineCapabilities } from './engine.js';
export {
  detectForeignHistories,
  FOREIGN_TOOLS,
  type ForeignHistory,
  type ForeignHistoryOptions,
  type ForeignTool,
  readForeignHistory,
} from './foreign/index.js';
export { ADVISORY_CLASS_ID, advisoryObjectId } from './internal/advisory.js';
export type { AdvisoryFence, KyselyFence, LeaseFence } from './internal/fence.js';
export { isTransientConnectionError } from './internal/pg-errors.js';
export { type OpenDatabaseOptions, type OpenedDatabase, openDatabase } from './open-database.js';
export {
  createFolderSource,
  createListSource,
  type FolderSourceOptions,
  type InlineMigration,
  MIGRATION_EXTENSIONS,
  type MigrationDb,
} from './sources.js';
export { createKyselyStore, type KyselyStore, type KyselyStoreOptions, STORE_SCHEMA_VERSION } from './store.js';
export { VERSION } from './version.js';
