import { ENV } from '../defaults.js';
import type { ConfigProblem } from '../errors.js';
import { redactUrl } from '../redact-url.js';
import type { ConfigSource, MigConfig } from '../types.js';
import { type CheckContext, CONFIG_KEYS, type ConfigKey, INPUT_KEYS, KEYS } from './keys.js';
import { maskValue } from './redact.js';
import { closest } from './suggest.js';
import { showValue } from './values.js';

export type FoundValues = { -readonly [K in keyof MigConfig]?: MigConfig[K] };

export interface Validated {
  readonly values: FoundValues;
  readonly problems: readonly ConfigProblem[];
}

export const NOTHING: Validated = { values: {}, problems: [] };

const KEY_BY_INPUT = new Map<string, ConfigKey>(CONFIG_KEYS.map((key) => [KEYS[key].input, key]));
const KEY_BY_ENV = new Map<string, ConfigKey>(
  CONFIG_KEYS.flatMap((key) => {
    const name = KEYS[key].env;
    return name === undefined ? [] : [[name, key] as const];
  }),
);

/** An environment variable counts as set only when it has something besides spaces. */
export function envValue(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** The environment: the variables in {@link ENV}, blank ones skipped; anything else in it is not ours. */
export function validateEnv(env: Readonly<Record<string, string | undefined>>, context: CheckContext): Validated {
  const present: Record<string, string> = {};
  for (const name of Object.values(ENV)) {
    const value = envValue(env, name);
    if (value !== undefined) present[name] = value;
  }
  return collect(present, KEY_BY_ENV, 'env', undefined, context);
}

/** A config file's content or the overrides: an object with known keys only. */
export function validateInput(
  raw: unknown,
  source: 'file' | 'flag',
  file: string | undefined,
  context: CheckContext,
): Validated {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const got = showValue(maskValue(raw));
    const problem: ConfigProblem =
      source === 'file'
        ? {
            key: file ?? 'config file',
            source,
            value: undefined,
            message: `holds ${got} where an object of settings is expected; use export default defineConfig({ ... }), or a JSON object`,
            file,
          }
        : { key: 'overrides', source, value: maskValue(raw), message: `${got} is not an object of settings` };
    return { values: {}, problems: [problem] };
  }
  return collect(raw as Record<string, unknown>, KEY_BY_INPUT, source, file, context);
}

/**
 * Every key of `keyByName` checked, in the order of {@link KEYS} (an `undefined` value counts as unset); then, in a
 * file or the overrides, every other key (all that `for...in` lists) reported as unknown. Values only when nothing
 * is wrong: one bad value fails its whole source.
 */
function collect(
  raw: Readonly<Record<string, unknown>>,
  keyByName: ReadonlyMap<string, ConfigKey>,
  source: Exclude<ConfigSource, 'default'>,
  file: string | undefined,
  context: CheckContext,
): Validated {
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [name, key] of keyByName) {
    const given = raw[name];
    if (given === undefined) continue;
    const checked = KEYS[key].check(given, context);
    if (checked.ok) {
      values[key] = checked.value;
      continue;
    }
    const value = maskKeyValue(key, given);
    problems.push({ key: name, source, value, message: `${showValue(value)} ${checked.message}`, ...where(file) });
  }
  if (source !== 'env') {
    for (const name in raw) {
      if (!keyByName.has(name)) problems.push(unknownKey(name, source, file));
    }
  }
  return problems.length === 0 ? { values: values as FoundValues, problems: [] } : { values: {}, problems };
}

/** `DATABASE_URL` in a file is almost certainly meant as `databaseUrl`. */
const INPUT_BY_ENV = new Map<string, string>([...KEY_BY_ENV].map(([name, key]) => [name, KEYS[key].input]));

function unknownKey(name: string, source: ConfigSource, file: string | undefined): ConfigProblem {
  const suggestion = INPUT_BY_ENV.get(name) ?? closest(name, INPUT_KEYS);
  const hint = suggestion === undefined ? `the keys are ${INPUT_KEYS.join(', ')}` : `did you mean "${suggestion}"?`;
  // No value: nothing says whether a key we do not know holds a secret (`pasword`, `databaseURL`, `dsn`).
  return { key: name, source, value: undefined, message: `unknown key; ${hint}`, ...where(file) };
}

function where(file: string | undefined): { file?: string } {
  return file === undefined ? {} : { file };
}

function maskKeyValue(key: ConfigKey, value: unknown): unknown {
  return key === 'databaseUrl' && typeof value === 'string' ? redactUrl(value) : maskValue(value);
}
