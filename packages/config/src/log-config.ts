import { CONFIG_KEYS } from './internal/keys.js';
import { MASK } from './internal/redact.js';
import { redactUrl } from './redact-url.js';
import type { ConfigSource, MigConfig, ResolvedConfig } from './types.js';

export interface ConfigSummaryEntry {
  readonly value: unknown;
  readonly source: ConfigSource;
}

/** Each key's effective value and its source, safe to log. */
export type ConfigSummary = { readonly [K in keyof MigConfig]: ConfigSummaryEntry };

/** The slice of a logger that {@link logConfig} uses: pino's call shape (fields first, then the message). */
export interface ConfigLogger {
  info(fields: object, msg?: string): void;
  warn(fields: object, msg?: string): void;
}

/**
 * Each effective value with where it came from, the database URL redacted: what a startup log should show.
 *
 * @example
 * ```ts
 * summarizeConfig(config).lockTimeoutMs; // { value: 10000, source: 'env' }
 * summarizeConfig(config).databaseUrl;   // { value: 'postgres://app:***@db/app', source: 'env' }
 * ```
 */
export function summarizeConfig(resolved: ResolvedConfig): ConfigSummary {
  const summary: Record<string, ConfigSummaryEntry> = {};
  for (const key of CONFIG_KEYS) {
    const value = resolved.values[key];
    summary[key] = {
      value: shownValue(key, value),
      source: resolved.sources[key],
    };
  }
  return summary as ConfigSummary;
}

/** A value as a log may show it: the URL redacted, the auth token masked. */
function shownValue(key: string, value: unknown): unknown {
  if (key === 'databaseUrl' && typeof value === 'string') return redactUrl(value);
  if (key === 'databaseAuthToken' && value !== undefined) return MASK;
  return value;
}

/**
 * Logs the configuration once at startup: one info line `{ config, file, nodeEnv }` with every effective
 * value and its source (the password masked), then one warning per entry in `resolved.warnings`.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * logConfig(await loadConfig(), pino());
 * // {"level":30,"config":{"lockTimeoutMs":{"value":30000,"source":"default"},...},"msg":"mig configuration"}
 * ```
 */
export function logConfig(resolved: ResolvedConfig, logger: ConfigLogger): void {
  logger.info(
    { config: summarizeConfig(resolved), file: resolved.file, nodeEnv: resolved.nodeEnv },
    'mig configuration',
  );
  for (const warning of resolved.warnings) logger.warn({ nodeEnv: resolved.nodeEnv, file: resolved.file }, warning);
}
