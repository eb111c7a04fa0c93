import { FAILURE_POLICIES, LINT_MODES, LOCK_STRATEGIES, PENDING_POLICIES, TRANSACTION_MODES } from '@mig/core';
import { urlScheme } from '@mig/core/adapter';
import type { EnvName } from '../defaults.js';
import type { MigConfig, MigConfigInput, TenantSelection } from '../types.js';
import { BOOLEAN_HINT, DURATION_HINT, formatDuration, toBoolean, toMilliseconds } from './values.js';

/**
 * Every key: its name in files and flags, its environment variable, and the check that turns any input (a
 * string from the environment, or what a file or flag holds) into the resolved value. Check messages carry no
 * value: the caller prefixes the masked value, so no check can leak a secret.
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
  migrationTimeoutMs: { min: 0, max: 7 * DAY },
  leaseTtlMs: { min: SECOND, max: HOUR },
  ddlLockTimeoutMs: { min: 0, max: HOUR },
  statementTimeoutMs: { min: 0, max: 7 * DAY },
  tenantConcurrency: { min: 1, max: 64 },
} as const satisfies Record<string, Bounds>;

/** PostgreSQL truncates identifiers at 63 bytes; mig adds `_lock`/`_head` to the table name, hence 58. */
export const IDENTIFIER_MAX = { schema: 63, table: 58 } as const;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What a check makes of a value: the resolved value, or what is wrong with it. */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };
/** What a check may need to know beyond the value: the database URL forms the caller's engines read. */
export interface CheckContext {
  /**
   * The URL forms mig can open here (`postgres://…`, `sqlite:PATH`, …), from the caller that composes the
   * engines; without them a database URL is checked for its form only (a scheme, a server URL that parses).
   */
  readonly databaseUrls?: readonly string[] | undefined;
}

export type Check<T> = (input: unknown, context: CheckContext) => Checked<T>;

function ok<T>(value: T): Checked<T> {
  return { ok: true, value };
}

function fail(message: string): Checked<never> {
  return { ok: false, message };
}

/** A number of milliseconds or a string with a unit (see {@link toMilliseconds}), within the bounds. */
function duration(bounds: Bounds): Check<number> {
  const notADuration = `is not a duration; ${DURATION_HINT}`;
  const outOfRange = `is out of range; use a duration from ${formatDuration(bounds.min)} to ${formatDuration(bounds.max)}`;
  return (input) => {
    const ms = toMilliseconds(input);
    if (ms === undefined) return fail(notADuration);
    return ms < bounds.min || ms > bounds.max ? fail(outOfRange) : ok(ms);
  };
}

/** A boolean, or one of the strings {@link toBoolean} reads. */
function boolean(): Check<boolean> {
  const notABoolean = `is not a boolean; ${BOOLEAN_HINT}`;
  return (input) => {
    const parsed = toBoolean(input);
    return parsed === undefined ? fail(notABoolean) : ok(parsed);
  };
}

/** One of `values`, spaces and case ignored; the resolved value is the lowercase spelling. */
function oneOf<const T extends readonly [string, ...string[]]>(values: T, what: string): Check<T[number]> {
  const message = `is not ${what}; use ${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  const known: readonly string[] = values;
  return (input) => {
    const value = typeof input === 'string' ? input.trim().toLowerCase() : undefined;
    return value !== undefined && known.includes(value) ? ok(value as T[number]) : fail(message);
  };
}

/** Taken as it is: neither trimmed nor lowercased. */
function identifier(what: 'schema' | 'table'): Check<string> {
  const max = IDENTIFIER_MAX[what];
  const message =
    `is not a valid ${what} name; use letters, digits and underscores, starting with a letter or underscore, ` +
    `at most ${max} characters${what === 'table' ? ' (mig adds _lock and _head to it)' : ''}`;
  return (input) =>
    typeof input === 'string' && IDENTIFIER.test(input) && input.length <= max ? ok(input) : fail(message);
}

/** The scheme of a URL form: "postgres" of "postgres://…", "sqlite" of "sqlite:PATH". */
function schemeOf(form: string): string {
  return form.slice(0, form.indexOf(':')).toLowerCase();
}

function databaseUrl(): Check<string> {
  const example = '(e.g. postgres://user:password@host:5432/database)';
  const unparsable =
    'is not a valid URL; percent-encode special characters in the user name and password ' +
    '(@ as %40, : as %3A, / as %2F, # as %23)';
  return (input, context) => {
    const forms = context.databaseUrls;
    const unknown =
      forms === undefined
        ? `is not a database URL; use a URL with a scheme ${example}`
        : `is not a database URL mig reads; use one of ${forms.join(', ')} ${example}`;
    if (typeof input !== 'string') return fail(unknown);
    const url = input.trim();
    const scheme = urlScheme(url);
    if (scheme === undefined || (forms !== undefined && !forms.map(schemeOf).includes(scheme))) return fail(unknown);
    // A path (sqlite:, file:, pglite:) is taken as it is; a server URL must parse.
    if (!url.includes('://') || scheme === 'file') return ok(url);
    try {
      new URL(url);
    } catch {
      return fail(unparsable);
    }
    return ok(url);
  };
}

/** A secret (a token): any string that is not blank, trimmed. */
function secret(): Check<string> {
  return (input) =>
    typeof input === 'string' && input.trim() !== ''
      ? ok(input.trim())
      : fail('is not a token; use a non-empty string');
}

/** Trimmed, not resolved: a relative folder resolves against the file's folder or `cwd`, once the source is known. */
function folder(): Check<string> {
  return (input) => {
    if (typeof input !== 'string') return fail('is not a folder path; use a string such as ./migrations');
    const path = input.trim();
    return path === '' ? fail('is empty; use a folder path such as ./migrations') : ok(path);
  };
}

/** A whole number within the bounds (a number, or a string of digits). */
function count(bounds: Bounds): Check<number> {
  const message = `is not a whole number from ${bounds.min} to ${bounds.max}`;
  return (input) => {
    const n = typeof input === 'string' && /^\s*\d+\s*$/.test(input) ? Number(input) : input;
    return typeof n === 'number' && Number.isSafeInteger(n) && n >= bounds.min && n <= bounds.max
      ? ok(n)
      : fail(message);
  };
}

/** A LIKE pattern or comma list (trimmed, not empty), a list of names, or a function that returns them. */
function tenantSelection(): Check<TenantSelection> {
  const message =
    "is not a tenant selection; use a LIKE pattern ('tenant_%'), a comma-separated list, a list of names, " +
    'or a function that returns them';
  return (input) => {
    if (typeof input === 'function') return ok(input as TenantSelection);
    if (typeof input === 'string') return input.trim() === '' ? fail(message) : ok(input.trim());
    if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string' && x.trim() !== '')) {
      return ok(input.map((x: string) => x.trim()));
    }
    return fail(message);
  };
}

interface KeyDefinition<T> {
  /** The key in a config file, `defineConfig` and overrides. */
  readonly input: keyof MigConfigInput;
  readonly env?: EnvName;
  /** Turns what a source holds (never `undefined`: an absent key is not checked) into the resolved value. */
  readonly check: Check<T>;
}

type KeyDefinitions = { readonly [K in keyof MigConfig]: KeyDefinition<NonNullable<MigConfig[K]>> };

export const KEYS: KeyDefinitions = {
  databaseUrl: { input: 'databaseUrl', env: 'DATABASE_URL', check: databaseUrl() },
  databaseAuthToken: { input: 'databaseAuthToken', env: 'DATABASE_AUTH_TOKEN', check: secret() },
  autoMigrate: { input: 'autoMigrate', env: 'AUTO_MIGRATE', check: boolean() },
  lockTimeoutMs: { input: 'lockTimeout', env: 'MIGRATION_LOCK_TIMEOUT', check: duration(BOUNDS.lockTimeoutMs) },
  dryRun: { input: 'dryRun', env: 'MIGRATION_DRY_RUN', check: boolean() },
  cacheTtlMs: { input: 'cacheTtl', env: 'MIGRATION_CACHE_TTL', check: duration(BOUNDS.cacheTtlMs) },
  lockStrategy: {
    input: 'lockStrategy',
    env: 'MIGRATION_LOCK_STRATEGY',
    check: oneOf(LOCK_STRATEGIES, 'a lock strategy'),
  },
  migrationsDir: { input: 'migrationsDir', env: 'MIGRATIONS_DIR', check: folder() },
  onPending: { input: 'onPending', check: oneOf(PENDING_POLICIES, 'a pending policy') },
  onFailure: { input: 'onFailure', check: oneOf(FAILURE_POLICIES, 'a failure policy') },
  leaseTtlMs: { input: 'leaseTtl', check: duration(BOUNDS.leaseTtlMs) },
  migrationTimeoutMs: {
    input: 'migrationTimeout',
    env: 'MIGRATION_TIMEOUT',
    check: duration(BOUNDS.migrationTimeoutMs),
  },
  schema: { input: 'schema', check: identifier('schema') },
  table: { input: 'table', check: identifier('table') },
  transaction: { input: 'transaction', check: oneOf(TRANSACTION_MODES, 'a transaction mode') },
  ddlLockTimeoutMs: {
    input: 'ddlLockTimeout',
    env: 'MIGRATION_DDL_LOCK_TIMEOUT',
    check: duration(BOUNDS.ddlLockTimeoutMs),
  },
  lint: { input: 'lint', check: oneOf(LINT_MODES, 'a lint mode') },
  statementTimeoutMs: {
    input: 'statementTimeout',
    env: 'MIGRATION_STATEMENT_TIMEOUT',
    check: duration(BOUNDS.statementTimeoutMs),
  },
  tenants: { input: 'tenants', env: 'MIGRATION_TENANTS', check: tenantSelection() },
  tenantConcurrency: {
    input: 'tenantConcurrency',
    env: 'MIGRATION_TENANT_CONCURRENCY',
    check: count(BOUNDS.tenantConcurrency),
  },
  createTenantSchemas: { input: 'createTenantSchemas', check: boolean() },
};

export type ConfigKey = keyof MigConfig;
export const CONFIG_KEYS = Object.keys(KEYS) as ConfigKey[];
export const INPUT_KEYS: readonly string[] = CONFIG_KEYS.map((key) => KEYS[key].input);
