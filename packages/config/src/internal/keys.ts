import { FAILURE_POLICIES, LOCK_STRATEGIES, PENDING_POLICIES } from '@mig/core';
import { z } from 'zod';
import type { EnvName } from '../defaults.js';
import type { MigConfig, MigConfigInput } from '../types.js';
import { BOOLEAN_HINT, DURATION_HINT, formatDuration, toBoolean, toMilliseconds } from './values.js';

/**
 * Every key: its name in files and flags, its environment variable, and the zod schema that turns any input
 * (a string from the environment, or what a file or flag holds) into the resolved value. Schema messages
 * carry no value: the caller prefixes the masked value, so no schema can leak a secret.
 */

const SECOND = 1_000;
const HOUR = 3_600 * SECOND;
const DAY = 24 * HOUR;

export interface Bounds {
  readonly min: number;
  readonly max: number;
}

/** Out-of-range values are errors, never clamped. */
export const BOUNDS = {
  lockTimeoutMs: { min: 0, max: DAY },
  cacheTtlMs: { min: 0, max: DAY },
  leaseTtlMs: { min: SECOND, max: HOUR },
} as const satisfies Record<string, Bounds>;

/** PostgreSQL truncates identifiers at 63 bytes; mig adds `_lock`/`_head` to the table name, hence 58. */
export const IDENTIFIER_MAX = { schema: 63, table: 58 } as const;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function duration(bounds: Bounds) {
  const notADuration = `is not a duration; ${DURATION_HINT}`;
  const outOfRange = `is out of range; use a duration from ${formatDuration(bounds.min)} to ${formatDuration(bounds.max)}`;
  return z
    .union([z.number(), z.string()], { error: notADuration })
    .transform((value, ctx) => {
      const ms = toMilliseconds(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: notADuration });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(z.number().min(bounds.min, { error: outOfRange }).max(bounds.max, { error: outOfRange }));
}

function boolean() {
  const notABoolean = `is not a boolean; ${BOOLEAN_HINT}`;
  return z.union([z.boolean(), z.string()], { error: notABoolean }).transform((value, ctx) => {
    const parsed = toBoolean(value);
    if (parsed === undefined) {
      ctx.addIssue({ code: 'custom', message: notABoolean });
      return z.NEVER;
    }
    return parsed;
  });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  const message = `is not ${what}; use ${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  return z
    .string({ error: message })
    .trim()
    .toLowerCase()
    .pipe(z.enum(values, { error: message }));
}

function identifier(what: 'schema' | 'table') {
  const max = IDENTIFIER_MAX[what];
  const message =
    `is not a valid ${what} name; use letters, digits and underscores, starting with a letter or underscore, ` +
    `at most ${max} characters${what === 'table' ? ' (mig adds _lock and _head to it)' : ''}`;
  return z.string({ error: message }).regex(IDENTIFIER, { error: message }).max(max, { error: message });
}

function databaseUrl() {
  const notPostgres = 'is not a PostgreSQL URL; use postgres://user:password@host:5432/database';
  return z
    .string({ error: notPostgres })
    .trim()
    .transform((url, ctx) => {
      if (!/^postgres(?:ql)?:\/\//i.test(url)) {
        ctx.addIssue({ code: 'custom', message: notPostgres });
        return z.NEVER;
      }
      try {
        new URL(url);
      } catch {
        ctx.addIssue({
          code: 'custom',
          message:
            'is not a valid URL; percent-encode special characters in the user name and password ' +
            '(@ as %40, : as %3A, / as %2F, # as %23)',
        });
        return z.NEVER;
      }
      return url;
    });
}

function folder() {
  return z
    .string({ error: 'is not a folder path; use a string such as ./migrations' })
    .trim()
    .min(1, { error: 'is empty; use a folder path such as ./migrations' });
}

interface KeyDefinition<T> {
  /** The key in a config file, `defineConfig` and overrides. */
  readonly input: keyof MigConfigInput;
  readonly env?: EnvName;
  readonly schema: z.ZodType<T, unknown>;
}

type KeyDefinitions = { readonly [K in keyof MigConfig]: KeyDefinition<NonNullable<MigConfig[K]>> };

export const KEYS: KeyDefinitions = {
  databaseUrl: { input: 'databaseUrl', env: 'DATABASE_URL', schema: databaseUrl() },
  autoMigrate: { input: 'autoMigrate', env: 'AUTO_MIGRATE', schema: boolean() },
  lockTimeoutMs: { input: 'lockTimeout', env: 'MIGRATION_LOCK_TIMEOUT', schema: duration(BOUNDS.lockTimeoutMs) },
  dryRun: { input: 'dryRun', env: 'MIGRATION_DRY_RUN', schema: boolean() },
  cacheTtlMs: { input: 'cacheTtl', env: 'MIGRATION_CACHE_TTL', schema: duration(BOUNDS.cacheTtlMs) },
  lockStrategy: {
    input: 'lockStrategy',
    env: 'MIGRATION_LOCK_STRATEGY',
    schema: oneOf(LOCK_STRATEGIES, 'a lock strategy'),
  },
  migrationsDir: { input: 'migrationsDir', env: 'MIGRATIONS_DIR', schema: folder() },
  onPending: { input: 'onPending', schema: oneOf(PENDING_POLICIES, 'a pending policy') },
  onFailure: { input: 'onFailure', schema: oneOf(FAILURE_POLICIES, 'a failure policy') },
  leaseTtlMs: { input: 'leaseTtl', schema: duration(BOUNDS.leaseTtlMs) },
  schema: { input: 'schema', schema: identifier('schema') },
  table: { input: 'table', schema: identifier('table') },
};

export type ConfigKey = keyof MigConfig;
export const CONFIG_KEYS = Object.keys(KEYS) as ConfigKey[];
export const INPUT_KEYS: readonly string[] = CONFIG_KEYS.map((key) => KEYS[key].input);
