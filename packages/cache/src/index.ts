export {
  type CacheStats,
  createStatusCache,
  DEFAULT_CACHE_TTL_MS,
  type MigStatusCache,
  type StatusCacheOptions,
} from './status-cache.js';
export { VERSION } from './version.js';
