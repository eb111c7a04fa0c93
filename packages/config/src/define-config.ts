import type { MigConfigInput } from './types.js';

/**
 * Returns its argument: it only gives a `mig.config.ts` types and completion.
 *
 * @example
 * ```ts
 * // mig.config.ts
 * import { defineConfig } from '@mig/config';
 *
 * export default defineConfig({
 *   migrationsDir: './db/migrations',
 *   lockTimeout: '1m',
 *   onPending: 'refuse',
 * });
 * ```
 */
export function defineConfig(config: MigConfigInput): MigConfigInput {
  return config;
}
