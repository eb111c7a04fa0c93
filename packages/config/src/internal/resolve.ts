import { dirname, resolve } from 'node:path';
import { inspect } from 'node:util';
import { DEFAULTS, ENV } from '../defaults.js';
import type { ConfigProblem } from '../errors.js';
import { redactUrl } from '../redact-url.js';
import type { ConfigSource, MigConfig, MigConfigInput, ResolvedConfig } from '../types.js';
import { CONFIG_KEYS } from './keys.js';
import { MASK } from './redact.js';
import { closest } from './suggest.js';
import { envValue, NOTHING, validateEnv, validateInput } from './validate.js';

export interface ResolveInput {
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  readonly file?: { readonly path: string; readonly config: unknown } | undefined;
  readonly overrides?: MigConfigInput | undefined;
  readonly cwd?: string | undefined;
  /** The database URL forms the caller can open (see `LoadConfigOptions.databaseUrls`). */
  readonly databaseUrls?: readonly string[] | undefined;
}

export type Resolution =
  | { readonly resolved: ResolvedConfig; readonly problems: readonly [] }
  | { readonly resolved: undefined; readonly problems: readonly ConfigProblem[] };

/** NODE_ENV values under which migrating on first use is the default. Anything else is treated as production. */
const MIGRATING_NODE_ENVS = new Set([undefined, 'development', 'test']);

/** Every source validated in full (so all problems surface together), then merged by precedence. */
export function resolveSources(input: ResolveInput): Resolution {
  const cwd = resolve(input.cwd ?? process.cwd());
  const env = input.env ?? process.env;
  const filePath = input.file === undefined ? undefined : resolve(cwd, input.file.path);

  const context = { databaseUrls: input.databaseUrls };
  const fromFlags =
    input.overrides === undefined ? NOTHING : validateInput(input.overrides, 'flag', undefined, context);
  const fromEnv = validateEnv(env, context);
  // An empty config file (read as `undefined`) sets nothing.
  const fromFile =
    input.file === undefined
      ? NOTHING
      : validateInput(input.file.config === undefined ? {} : input.file.config, 'file', filePath, context);
  // Every layer's problems, even for keys a higher layer overrides: a bad value left in the environment would
  // otherwise break the first run without the flag.
  const problems = [...fromEnv.problems, ...fromFile.problems, ...fromFlags.problems];
  if (problems.length > 0) return { resolved: undefined, problems };

  const precedence = [
    ['flag', fromFlags],
    ['env', fromEnv],
    ['file', fromFile],
  ] as const;
  const nodeEnv = envValue(env, 'NODE_ENV')?.trim();
  const values: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const key of CONFIG_KEYS) {
    const layer = precedence.find(([, found]) => found.values[key] !== undefined);
    if (layer) {
      values[key] = layer[1].values[key];
      sources[key] = layer[0];
    } else {
      values[key] = key === 'autoMigrate' ? MIGRATING_NODE_ENVS.has(nodeEnv) : DEFAULTS[key];
      sources[key] = 'default';
    }
  }
  const base = sources.migrationsDir === 'file' && filePath !== undefined ? dirname(filePath) : cwd;
  values.migrationsDir = resolve(base, values.migrationsDir as string);

  const config = values as unknown as MigConfig;
  const resolved: ResolvedConfig = Object.freeze({
    values: hideSecrets(config),
    sources: Object.freeze(sources as ResolvedConfig['sources']),
    file: filePath,
    nodeEnv,
    warnings: Object.freeze(warningsFor(config, sources as ResolvedConfig['sources'], nodeEnv, env, filePath)),
  });
  return { resolved, problems: [] };
}

function warningsFor(
  values: MigConfig,
  sources: ResolvedConfig['sources'],
  nodeEnv: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  file: string | undefined,
): string[] {
  const warnings: string[] = [];
  if (values.autoMigrate && nodeEnv === 'production') {
    const by =
      sources.autoMigrate === 'env'
        ? `${ENV.AUTO_MIGRATE}=${env[ENV.AUTO_MIGRATE]?.trim()}`
        : sources.autoMigrate === 'file'
          ? `autoMigrate in ${file}`
          : 'the autoMigrate flag';
    warnings.push(
      `Automatic migration is on with NODE_ENV=production (set by ${by}): pending migrations will be applied on ` +
        'first database use. If that is not intended, turn it off and apply migrations with `mig up` when deploying.',
    );
  }
  // A misspelt variable is silently ignored otherwise; only our own prefixes, so other tools' variables stay quiet.
  for (const name of Object.keys(env)) {
    if (!/^(?:MIGRATIONS?_|AUTO_MIGRAT)/.test(name) || Object.hasOwn(ENV, name) || envValue(env, name) === undefined) {
      continue;
    }
    const suggestion = closest(name, Object.values(ENV));
    if (suggestion !== undefined) warnings.push(`${name} is set but mig does not read it; did you mean ${suggestion}?`);
  }
  return warnings;
}

/**
 * Freezes the values and makes every serialization of them (JSON.stringify, pino, util.inspect, console.log)
 * show the URL redacted, so logging the config object by mistake cannot leak the password. Property access
 * still gives the real URL: the app has to connect with it.
 */
function hideSecrets(values: MigConfig): MigConfig {
  const redacted = (): Record<string, unknown> => ({
    ...values,
    databaseUrl: values.databaseUrl === undefined ? undefined : redactUrl(values.databaseUrl),
    databaseAuthToken: values.databaseAuthToken === undefined ? undefined : MASK,
  });
  Object.defineProperty(values, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(values, inspect.custom, { value: redacted, enumerable: false });
  return Object.freeze(values);
}
