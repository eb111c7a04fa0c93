export { createKyselyAdapter, type KyselyAdapter, type KyselyLockOptions } from './adapter.js';
export {
  type DatabaseLocation,
  describeConnection,
  describeServerWhere,
  describeWhere,
  isTransientConnectionError,
  type ParsedDatabaseUrl,
  parseDatabaseUrl,
  URL_FORMS,
} from './connection.js';
export type { MigrationDb } from './db.js';
export type { EngineCapabilities } from './engines/driver.js';
export { ENGINES, type Engine } from './engines/registry.js';
export type { AdvisoryFence, KyselyFence, LeaseFence } from './fence.js';
export {
  detectForeignHistories,
  FOREIGN_TOOLS,
  type ForeignHistory,
  type ForeignHistoryOptions,
  type ForeignTool,
  readForeignHistory,
} from './foreign/index.js';
export type { KyselyStoreInspector } from './inspector.js';
export {
  acceptedRules,
  createMigrationLinter,
  formatFinding,
  LINTED_ENGINES,
  type LintFinding,
  type MigrationLint,
  type MigrationLinter,
  unaccepted,
} from './lint/index.js';
export { describeDatabase, type OpenDatabaseOptions, type OpenedDatabase, openDatabase } from './open-database.js';
export {
  BUNDLE_FORMAT,
  BUNDLE_FORMAT_VERSION,
  type BundledCodeMigration,
  type BundledMigration,
  type BundledSqlMigration,
  type BundleSource,
  type BundleSourceOptions,
  createBundleSource,
  isMigrationBundle,
  type MigrationBundle,
} from './sources/bundle.js';
export { type BundleModuleOptions, type BundleModuleText, renderBundleModule } from './sources/bundle-module.js';
export {
  createFolderSource,
  type FolderSource,
  type FolderSourceOptions,
  MIGRATION_EXTENSIONS,
} from './sources/folder.js';
export { compareVersions, LAYOUT_LABELS, type LayoutName } from './sources/layouts.js';
export { createListSource, type InlineMigration } from './sources/list.js';
export type { SqlSplitter, SqlStatement } from './sql/statement.js';
export { createKyselyStore, type KyselyStore, type KyselyStoreOptions, STORE_SCHEMA_VERSION } from './store.js';
export { type TenantDatabases, type TenantNamespaces, tenantDatabases, tenantNamespaces } from './tenants.js';
export { VERSION } from './version.js';
