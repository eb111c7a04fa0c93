import { ConfigError } from './errors.js';
import { type ResolveInput, resolveSources } from './internal/resolve.js';
import type { MigConfigInput, ResolvedConfig } from './types.js';

export interface ResolveConfigInput {
  /** Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** A config file's content, already loaded; `path` names it in messages and anchors a relative `migrationsDir`. */
  readonly file?: { readonly path: string; readonly config: unknown } | undefined;
  /** CLI flags or explicit options: highest precedence. `undefined` values count as unset. */
  readonly overrides?: MigConfigInput | undefined;
  /** Default `process.cwd()`. */
  readonly cwd?: string | undefined;
  /** The database URL forms the caller can open (see `LoadConfigOptions.databaseUrls`). */
  readonly databaseUrls?: readonly string[] | undefined;
}

/**
 * The synchronous core of {@link loadConfig}: validates the environment, a config file's content and the
 * overrides, then merges them (flag > env > file > default), remembering where each value came from. Reads
 * nothing from disk. Throws a {@link ConfigError} listing every problem.
 *
 * @example
 * ```ts
 * const { values, sources } = resolveConfig({
 *   env: { NODE_ENV: 'production', MIGRATION_LOCK_TIMEOUT: '10s' },
 *   file: { path: '/app/mig.config.json', config: { migrationsDir: 'db/migrations' } },
 * });
 * values.lockTimeoutMs;  // 10000 (sources.lockTimeoutMs === 'env')
 * values.migrationsDir;  // '/app/db/migrations' (sources.migrationsDir === 'file')
 * values.autoMigrate;    // false: production never migrates unless told to
 * ```
 */
export function resolveConfig(input: ResolveConfigInput = {}): ResolvedConfig {
  const { resolved, problems } = resolveSources(input satisfies ResolveInput);
  if (resolved === undefined) throw new ConfigError(problems);
  return resolved;
}
