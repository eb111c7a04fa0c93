export { type AdviceConfig, adviceFor } from './advice.js';
export { DEFAULTS, ENV, type EnvName } from './defaults.js';
export { defineConfig } from './define-config.js';
export { ConfigError, type ConfigProblem } from './errors.js';
export { type LoadConfigOptions, loadConfig } from './load-config.js';
export {
  type ConfigLogger,
  type ConfigSummary,
  type ConfigSummaryEntry,
  logConfig,
  summarizeConfig,
} from './log-config.js';
export { parseBoolean, parseDuration } from './parse.js';
export { redactUrl } from './redact-url.js';
export { type ResolveConfigInput, resolveConfig } from './resolve-config.js';
export type {
  ConfigSource,
  FailurePolicy,
  LockStrategy,
  MigConfig,
  MigConfigInput,
  PendingPolicy,
  ResolvedConfig,
  TenantSelection,
} from './types.js';
