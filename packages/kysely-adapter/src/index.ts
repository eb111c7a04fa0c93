export {
  createKyselyAdapter,
  type KyselyAdapter,
  type KyselyLockOptions,
  LOCK_STRATEGIES,
  type LockStrategy,
} from './adapter.js';
export { describeConnection } from './connection.js';
export { ADVISORY_CLASS_ID, advisoryObjectId } from './internal/advisory.js';
export type { AdvisoryFence, Fence, LeaseFence } from './internal/fence.js';
export {
  createFolderSource,
  createListSource,
  type FolderSourceOptions,
  type InlineMigration,
  MIGRATION_EXTENSIONS,
  type MigrationDb,
} from './sources.js';
export {
  createKyselyStore,
  DEFAULT_LOCK_WAIT_TIMEOUT_MS,
  DEFAULT_SCHEMA,
  DEFAULT_TABLE,
  type KyselyStore,
  type KyselyStoreOptions,
  STORE_SCHEMA_VERSION,
} from './store.js';
export { VERSION } from './version.js';
