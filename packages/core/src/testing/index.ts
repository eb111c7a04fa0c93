// `@mig/core/testing`: the contract suites every implementation of a port must pass, the specification
// that adapters are written against. They run under vitest (an optional peer dependency of @mig/core):
// call a suite at the top level of a test file with a harness that builds the implementation.
export {
  CACHE_CASES,
  type CacheCase,
  type CacheContractHarness,
  type CacheContractOptions,
  describeCacheContract,
} from './cache-contract.js';
export {
  describeLockContract,
  LOCK_CASES,
  type LockCapabilities,
  type LockCase,
  type LockContractHarness,
  type LockFencing,
  type LockFixture,
} from './lock-contract.js';
export { type BuildMigration, CONTRACT_MIGRATION_NAME, type MigrationSpec } from './migration-spec.js';
export { describeStoreContract } from './store-contract.js';
export {
  STORE_CASES,
  type StoreCapabilities,
  type StoreCase,
  type StoreContractHarness,
  type StoreFixture,
} from './store-harness.js';
