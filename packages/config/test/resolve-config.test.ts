import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError, ENV, type MigConfig, type MigConfigInput, resolveConfig } from '../src/index.js';

const cwd = '/srv/app';

/** The URL forms the engines of @mig/kysely-adapter read, as its `URL_FORMS` lists them (the CLI and service pass those). */
const databaseUrls = [
  'postgres://…',
  'postgresql://…',
  'mysql://…',
  'mariadb://…',
  'sqlite:PATH',
  'file:PATH',
  'pglite:DIR',
];

/** The problems resolveConfig throws, or fails the test if it does not throw a ConfigError. */
function problemsOf(input: Parameters<typeof resolveConfig>[0]): ConfigError {
  try {
    resolveConfig({ databaseUrls, ...input });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('environment variables', () => {
  // [variable, value, resolved key, expected value]
  const good: [string, string, keyof MigConfig, unknown][] = [
    ['DATABASE_URL', 'postgres://app:pw@localhost:5432/app', 'databaseUrl', 'postgres://app:pw@localhost:5432/app'],
    ['DATABASE_URL', 'postgresql://localhost/app', 'databaseUrl', 'postgresql://localhost/app'],
    ['DATABASE_URL', '  postgres://localhost/app \n', 'databaseUrl', 'postgres://localhost/app'],
    [
      'DATABASE_URL',
      'postgres://app@[::1]:5432/app?sslmode=require',
      'databaseUrl',
      'postgres://app@[::1]:5432/app?sslmode=require',
    ],
    ['AUTO_MIGRATE', 'true', 'autoMigrate', true],
    ['AUTO_MIGRATE', 'false', 'autoMigrate', false],
    ['AUTO_MIGRATE', '1', 'autoMigrate', true],
    ['AUTO_MIGRATE', '0', 'autoMigrate', false],
    ['AUTO_MIGRATE', 'yes', 'autoMigrate', true],
    ['AUTO_MIGRATE', 'no', 'autoMigrate', false],
    ['AUTO_MIGRATE', 'on', 'autoMigrate', true],
    ['AUTO_MIGRATE', 'off', 'autoMigrate', false],
    ['AUTO_MIGRATE', ' TRUE ', 'autoMigrate', true],
    ['AUTO_MIGRATE', 'Off', 'autoMigrate', false],
    ['MIGRATION_LOCK_TIMEOUT', '500', 'lockTimeoutMs', 500],
    ['MIGRATION_LOCK_TIMEOUT', '500ms', 'lockTimeoutMs', 500],
    ['MIGRATION_LOCK_TIMEOUT', '30s', 'lockTimeoutMs', 30_000],
    ['MIGRATION_LOCK_TIMEOUT', '5m', 'lockTimeoutMs', 300_000],
    ['MIGRATION_LOCK_TIMEOUT', '1.5s', 'lockTimeoutMs', 1_500],
    ['MIGRATION_LOCK_TIMEOUT', '0', 'lockTimeoutMs', 0],
    ['MIGRATION_LOCK_TIMEOUT', '24h', 'lockTimeoutMs', 86_400_000],
    ['MIGRATION_LOCK_TIMEOUT', ' 10s ', 'lockTimeoutMs', 10_000],
    ['MIGRATION_DRY_RUN', 'true', 'dryRun', true],
    ['MIGRATION_DRY_RUN', 'NO', 'dryRun', false],
    ['MIGRATION_CACHE_TTL', '0', 'cacheTtlMs', 0],
    ['MIGRATION_CACHE_TTL', '10s', 'cacheTtlMs', 10_000],
    ['MIGRATION_CACHE_TTL', '24h', 'cacheTtlMs', 86_400_000],
    ['MIGRATION_LOCK_STRATEGY', 'advisory', 'lockStrategy', 'advisory'],
    ['MIGRATION_LOCK_STRATEGY', 'lease', 'lockStrategy', 'lease'],
    ['MIGRATION_LOCK_STRATEGY', ' LEASE ', 'lockStrategy', 'lease'],
    ['MIGRATIONS_DIR', 'db/migrations', 'migrationsDir', resolve(cwd, 'db/migrations')],
    ['MIGRATIONS_DIR', '../shared/migrations', 'migrationsDir', resolve(cwd, '../shared/migrations')],
    ['MIGRATIONS_DIR', '/opt/migrations', 'migrationsDir', '/opt/migrations'],
    ['MIGRATION_TIMEOUT', '2h', 'migrationTimeoutMs', 7_200_000],
    ['MIGRATION_TIMEOUT', '0', 'migrationTimeoutMs', 0],
    ['MIGRATION_DDL_LOCK_TIMEOUT', '500ms', 'ddlLockTimeoutMs', 500],
    ['MIGRATION_DDL_LOCK_TIMEOUT', '0', 'ddlLockTimeoutMs', 0],
    ['MIGRATION_STATEMENT_TIMEOUT', '5m', 'statementTimeoutMs', 300_000],
  ];

  it.each(good)('%s=%j sets %s', (name, value, key, expected) => {
    const { values, sources } = resolveConfig({ env: { [name]: value }, cwd });
    expect(values[key]).toEqual(expected);
    expect(sources[key]).toBe('env');
  });

  // [variable, value, the whole line of the error message]
  const bad: [string, string, string][] = [
    [
      'DATABASE_URL',
      'mssql://app@localhost/app',
      'DATABASE_URL: "mssql://app@localhost/app" is not a database URL mig reads; use one of postgres://…, postgresql://…, mysql://…, mariadb://…, sqlite:PATH, file:PATH, pglite:DIR (e.g. postgres://user:password@host:5432/database)',
    ],
    [
      'DATABASE_URL',
      'localhost:5432',
      'DATABASE_URL: "localhost:5432" is not a database URL mig reads; use one of postgres://…, postgresql://…, mysql://…, mariadb://…, sqlite:PATH, file:PATH, pglite:DIR (e.g. postgres://user:password@host:5432/database)',
    ],
    [
      'DATABASE_URL',
      'postgres://app@localhost:port/app',
      'DATABASE_URL: "postgres://app@localhost:port/app" is not a valid URL; percent-encode special characters in the user name and password (@ as %40, : as %3A, / as %2F, # as %23)',
    ],
    ['AUTO_MIGRATE', 'maybe', 'AUTO_MIGRATE: "maybe" is not a boolean; use true or false (also 1/0, yes/no, on/off)'],
    ['AUTO_MIGRATE', '2', 'AUTO_MIGRATE: "2" is not a boolean; use true or false (also 1/0, yes/no, on/off)'],
    [
      'MIGRATION_LOCK_TIMEOUT',
      '-5s',
      'MIGRATION_LOCK_TIMEOUT: "-5s" is not a duration; use milliseconds or 500ms, 30s, 5m',
    ],
    [
      'MIGRATION_LOCK_TIMEOUT',
      'soon',
      'MIGRATION_LOCK_TIMEOUT: "soon" is not a duration; use milliseconds or 500ms, 30s, 5m',
    ],
    [
      'MIGRATION_LOCK_TIMEOUT',
      '1.5',
      'MIGRATION_LOCK_TIMEOUT: "1.5" is not a duration; use milliseconds or 500ms, 30s, 5m',
    ],
    [
      'MIGRATION_LOCK_TIMEOUT',
      '2d',
      'MIGRATION_LOCK_TIMEOUT: "2d" is not a duration; use milliseconds or 500ms, 30s, 5m',
    ],
    ['MIGRATION_LOCK_TIMEOUT', '25h', 'MIGRATION_LOCK_TIMEOUT: "25h" is out of range; use a duration from 0 to 24h'],
    [
      'MIGRATION_LOCK_TIMEOUT',
      '86400001',
      'MIGRATION_LOCK_TIMEOUT: "86400001" is out of range; use a duration from 0 to 24h',
    ],
    [
      'MIGRATION_DRY_RUN',
      'dry',
      'MIGRATION_DRY_RUN: "dry" is not a boolean; use true or false (also 1/0, yes/no, on/off)',
    ],
    ['MIGRATION_CACHE_TTL', '8760h', 'MIGRATION_CACHE_TTL: "8760h" is out of range; use a duration from 0 to 24h'],
    ['MIGRATION_CACHE_TTL', '1y', 'MIGRATION_CACHE_TTL: "1y" is not a duration; use milliseconds or 500ms, 30s, 5m'],
    [
      'MIGRATION_LOCK_STRATEGY',
      'mutex',
      'MIGRATION_LOCK_STRATEGY: "mutex" is not a lock strategy; use advisory or lease',
    ],
    [
      'MIGRATION_LOCK_STRATEGY',
      'advisory-lock',
      'MIGRATION_LOCK_STRATEGY: "advisory-lock" is not a lock strategy; use advisory or lease',
    ],
  ];

  it.each(bad)('%s=%j is an error naming the variable, the value and what is accepted', (name, value, line) => {
    const error = problemsOf({ env: { [name]: value }, cwd });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatchObject({ key: name, source: 'env', value });
    expect(error.message.split('\n')).toContain(`  ${line}`);
  });

  it('checks only the form of a database URL when the caller names no URL forms', () => {
    expect(resolveConfig({ env: { DATABASE_URL: 'mssql://app@localhost/app' }, cwd }).values.databaseUrl).toBe(
      'mssql://app@localhost/app',
    );
    expect(problemsOf({ env: { DATABASE_URL: 'db.internal/app' }, cwd, databaseUrls: undefined }).message).toContain(
      'DATABASE_URL: "db.internal/app" is not a database URL; use a URL with a scheme (e.g. postgres://user:password@host:5432/database)',
    );
  });

  it.each(['', '   ', '\t\n'])('counts %j as unset', (blank) => {
    const env = Object.fromEntries(
      [
        'DATABASE_URL',
        'AUTO_MIGRATE',
        'MIGRATION_LOCK_TIMEOUT',
        'MIGRATION_DRY_RUN',
        'MIGRATION_CACHE_TTL',
        'MIGRATION_LOCK_STRATEGY',
        'MIGRATIONS_DIR',
        'NODE_ENV',
      ].map((name) => [name, blank]),
    );
    const { values, sources, nodeEnv } = resolveConfig({ env, cwd });
    expect(Object.values(sources).every((source) => source === 'default')).toBe(true);
    expect(values).toEqual({
      databaseUrl: undefined,
      autoMigrate: true,
      lockTimeoutMs: 30_000,
      dryRun: false,
      cacheTtlMs: 300_000,
      lockStrategy: 'advisory',
      migrationsDir: resolve(cwd, 'migrations'),
      onPending: 'warn',
      onFailure: 'throw',
      leaseTtlMs: 30_000,
      schema: 'public',
      table: 'mig_migrations',
      transaction: 'each',
      ddlLockTimeoutMs: 1_000,
      lint: 'error',
      statementTimeoutMs: undefined,
      tenantConcurrency: 4,
      createTenantSchemas: true,
    });
    expect(nodeEnv).toBeUndefined();
  });

  it('ignores variables that are not mig’s', () => {
    expect(() => resolveConfig({ env: { PATH: '/bin', LOCK_TIMEOUT: 'nonsense' }, cwd })).not.toThrow();
  });
});

describe('NODE_ENV decides the autoMigrate default', () => {
  it.each([
    [undefined, true],
    ['', true],
    ['development', true],
    ['test', true],
    ['production', false],
    ['staging', false],
    ['prod', false],
    ['Production', false],
    ['Development', false],
  ])('NODE_ENV=%j → autoMigrate %s', (nodeEnv, expected) => {
    const resolved = resolveConfig({ env: { NODE_ENV: nodeEnv }, cwd });
    expect(resolved.values.autoMigrate).toBe(expected);
    expect(resolved.sources.autoMigrate).toBe('default');
    expect(resolved.warnings).toEqual([]);
  });

  it('honours AUTO_MIGRATE=true in production, with a warning', () => {
    const resolved = resolveConfig({ env: { NODE_ENV: 'production', AUTO_MIGRATE: 'true' }, cwd });
    expect(resolved.values.autoMigrate).toBe(true);
    expect(resolved.nodeEnv).toBe('production');
    expect(resolved.warnings).toHaveLength(1);
    expect(resolved.warnings[0]).toMatch(
      /^Automatic migration is on with NODE_ENV=production \(set by AUTO_MIGRATE=true\)/,
    );
  });

  it('warns the same for autoMigrate from a file or a flag, naming it', () => {
    const file = { path: '/srv/app/mig.config.json', config: { autoMigrate: true } };
    const fromFile = resolveConfig({ env: { NODE_ENV: 'production' }, file, cwd });
    expect(fromFile.warnings[0]).toContain('set by autoMigrate in /srv/app/mig.config.json');
    const fromFlag = resolveConfig({ env: { NODE_ENV: 'production' }, overrides: { autoMigrate: 'yes' }, cwd });
    expect(fromFlag.warnings[0]).toContain('set by the autoMigrate flag');
  });

  it('does not warn when production turns it off, or when a non-production NODE_ENV turns it on', () => {
    expect(resolveConfig({ env: { NODE_ENV: 'production', AUTO_MIGRATE: 'false' }, cwd }).warnings).toEqual([]);
    expect(resolveConfig({ env: { NODE_ENV: 'staging', AUTO_MIGRATE: 'true' }, cwd }).warnings).toEqual([]);
  });

  it('lets AUTO_MIGRATE=false turn it off in development', () => {
    const resolved = resolveConfig({ env: { NODE_ENV: 'development', AUTO_MIGRATE: 'off' }, cwd });
    expect(resolved.values.autoMigrate).toBe(false);
    expect(resolved.sources.autoMigrate).toBe('env');
  });
});

describe('precedence: flag > env > file > default', () => {
  const file = { path: '/srv/app/mig.config.json', config: { lockTimeout: '3s' } };
  it.each([
    [
      'flag, env and file',
      { overrides: { lockTimeout: '1s' }, env: { MIGRATION_LOCK_TIMEOUT: '2s' }, file },
      1_000,
      'flag',
    ],
    ['env and file', { env: { MIGRATION_LOCK_TIMEOUT: '2s' }, file }, 2_000, 'env'],
    ['flag and file', { overrides: { lockTimeout: 1_000 }, env: {}, file }, 1_000, 'flag'],
    ['file only', { env: {}, file }, 3_000, 'file'],
    ['nothing', { env: {} }, 30_000, 'default'],
  ] as const)('%s', (_, input, expected, source) => {
    const resolved = resolveConfig({ ...input, cwd });
    expect(resolved.values.lockTimeoutMs).toBe(expected);
    expect(resolved.sources.lockTimeoutMs).toBe(source);
  });

  it('records the source of every key', () => {
    const resolved = resolveConfig({
      cwd,
      overrides: { dryRun: true, lockStrategy: undefined },
      env: { DATABASE_URL: 'postgres://localhost/app', MIGRATION_CACHE_TTL: '1m' },
      file: {
        path: '/srv/app/config/mig.config.json',
        config: { cacheTtl: '2m', onPending: 'refuse', schema: 'mig', migrationsDir: '../db' },
      },
    });
    expect(resolved.sources).toEqual({
      databaseUrl: 'env',
      databaseAuthToken: 'default',
      autoMigrate: 'default',
      lockTimeoutMs: 'default',
      dryRun: 'flag',
      cacheTtlMs: 'env',
      lockStrategy: 'default',
      migrationsDir: 'file',
      onPending: 'file',
      onFailure: 'default',
      leaseTtlMs: 'default',
      migrationTimeoutMs: 'default',
      schema: 'file',
      table: 'default',
      transaction: 'default',
      ddlLockTimeoutMs: 'default',
      lint: 'default',
      statementTimeoutMs: 'default',
      tenants: 'default',
      tenantConcurrency: 'default',
      createTenantSchemas: 'default',
    });
    expect(resolved.values).toMatchObject({ cacheTtlMs: 60_000, dryRun: true, onPending: 'refuse', schema: 'mig' });
    expect(resolved.file).toBe('/srv/app/config/mig.config.json');
  });

  it('reports a bad value even where a higher layer overrides it', () => {
    const error = problemsOf({ cwd, env: { MIGRATION_LOCK_TIMEOUT: 'soon' }, overrides: { lockTimeout: '1s' } });
    expect(error.problems.map((p) => p.key)).toEqual(['MIGRATION_LOCK_TIMEOUT']);
  });
});

describe('migrationsDir resolves to an absolute path', () => {
  it.each([
    ['default', {}, resolve(cwd, 'migrations')],
    ['env, against cwd', { env: { MIGRATIONS_DIR: 'db' } }, resolve(cwd, 'db')],
    ['flag, against cwd', { overrides: { migrationsDir: './sql' } }, resolve(cwd, 'sql')],
    [
      'file, against the file’s folder',
      { file: { path: '/repo/svc/mig.config.ts', config: { migrationsDir: '../migrations' } } },
      '/repo/migrations',
    ],
    [
      'a relative file path, against cwd first',
      { file: { path: 'conf/mig.json', config: { migrationsDir: 'm' } } },
      resolve(cwd, 'conf/m'),
    ],
    ['absolute, unchanged', { overrides: { migrationsDir: '/var/lib/migrations' } }, '/var/lib/migrations'],
  ] as const)('%s', (_, input, expected) => {
    expect(resolveConfig({ env: {}, cwd, ...input }).values.migrationsDir).toBe(expected);
  });
});

describe('config file and flag keys', () => {
  const fileAt = (config: unknown) => ({ path: '/srv/app/mig.config.json', config });

  // [key, value, resolved key, expected]
  const good: [keyof MigConfigInput, unknown, keyof MigConfig, unknown][] = [
    ['databaseUrl', 'postgresql://app:pw@db/app', 'databaseUrl', 'postgresql://app:pw@db/app'],
    ['autoMigrate', false, 'autoMigrate', false],
    ['autoMigrate', 'yes', 'autoMigrate', true],
    ['lockTimeout', 500, 'lockTimeoutMs', 500],
    ['lockTimeout', '2m', 'lockTimeoutMs', 120_000],
    ['dryRun', true, 'dryRun', true],
    ['cacheTtl', 0, 'cacheTtlMs', 0],
    ['lockStrategy', 'lease', 'lockStrategy', 'lease'],
    ['onPending', 'refuse', 'onPending', 'refuse'],
    ['onPending', 'warn', 'onPending', 'warn'],
    ['onFailure', 'degrade', 'onFailure', 'degrade'],
    ['onFailure', 'THROW', 'onFailure', 'throw'],
    ['leaseTtl', '1s', 'leaseTtlMs', 1_000],
    ['leaseTtl', '1h', 'leaseTtlMs', 3_600_000],
    ['leaseTtl', 45_000, 'leaseTtlMs', 45_000],
    ['schema', 'mig', 'schema', 'mig'],
    ['schema', `_${'s'.repeat(62)}`, 'schema', `_${'s'.repeat(62)}`],
    ['table', 'Mig_Records2', 'table', 'Mig_Records2'],
    ['table', 't'.repeat(58), 'table', 't'.repeat(58)],
  ];

  it.each(good)('%s: %j', (key, value, resolvedKey, expected) => {
    const fromFile = resolveConfig({ env: {}, cwd, file: fileAt({ [key]: value }) });
    expect(fromFile.values[resolvedKey]).toEqual(expected);
    expect(fromFile.sources[resolvedKey]).toBe('file');
    const fromFlag = resolveConfig({ env: {}, cwd, overrides: { [key]: value } });
    expect(fromFlag.values[resolvedKey]).toEqual(expected);
    expect(fromFlag.sources[resolvedKey]).toBe('flag');
  });

  // [key, value, message after "key in file: "]
  const bad: [string, unknown, string][] = [
    [
      'databaseUrl',
      42,
      '42 is not a database URL mig reads; use one of postgres://…, postgresql://…, mysql://…, mariadb://…, sqlite:PATH, file:PATH, pglite:DIR (e.g. postgres://user:password@host:5432/database)',
    ],
    [
      'databaseUrl',
      '',
      '"" is not a database URL mig reads; use one of postgres://…, postgresql://…, mysql://…, mariadb://…, sqlite:PATH, file:PATH, pglite:DIR (e.g. postgres://user:password@host:5432/database)',
    ],
    ['autoMigrate', 1, '1 is not a boolean; use true or false (also 1/0, yes/no, on/off)'],
    ['autoMigrate', null, 'null is not a boolean; use true or false (also 1/0, yes/no, on/off)'],
    ['lockTimeout', -1, '-1 is out of range; use a duration from 0 to 24h'],
    ['lockTimeout', 1.5, '1.5 is not a duration; use milliseconds or 500ms, 30s, 5m'],
    ['lockTimeout', true, 'true is not a duration; use milliseconds or 500ms, 30s, 5m'],
    ['lockTimeout', '-5s', '"-5s" is not a duration; use milliseconds or 500ms, 30s, 5m'],
    ['cacheTtl', 365 * 86_400_000, '31536000000 is out of range; use a duration from 0 to 24h'],
    ['leaseTtl', '500ms', '"500ms" is out of range; use a duration from 1s to 1h'],
    ['leaseTtl', 0, '0 is out of range; use a duration from 1s to 1h'],
    ['leaseTtl', '2h', '"2h" is out of range; use a duration from 1s to 1h'],
    ['lockStrategy', 'mutex', '"mutex" is not a lock strategy; use advisory or lease'],
    ['lockStrategy', 1, '1 is not a lock strategy; use advisory or lease'],
    ['onPending', 'ignore', '"ignore" is not a pending policy; use warn or refuse'],
    ['onFailure', 'retry', '"retry" is not a failure policy; use throw or degrade'],
    ['migrationsDir', '', '"" is empty; use a folder path such as ./migrations'],
    ['migrationsDir', ['a', 'b'], '["a","b"] is not a folder path; use a string such as ./migrations'],
    ...(['1abc', 'my-schema', 'a b', '', 'ö', 's'.repeat(64)].map((name) => [
      'schema',
      name,
      `${JSON.stringify(name)} is not a valid schema name; use letters, digits and underscores, starting with a letter or underscore, at most 63 characters`,
    ]) as [string, unknown, string][]),
    ...(['mig.migrations', 't'.repeat(59), 'drop table x;'].map((name) => [
      'table',
      name,
      `${JSON.stringify(name)} is not a valid table name; use letters, digits and underscores, starting with a letter or underscore, at most 58 characters (mig adds _lock and _head to it)`,
    ]) as [string, unknown, string][]),
  ];

  it.each(bad)('%s: %j is an error', (key, value, message) => {
    const fromFile = problemsOf({ env: {}, cwd, file: fileAt({ [key]: value }) });
    expect(fromFile.problems).toEqual([{ key, source: 'file', value, message, file: '/srv/app/mig.config.json' }]);
    expect(fromFile.message).toContain(`\n  ${key} in /srv/app/mig.config.json: ${message}\n`);
    const fromFlag = problemsOf({ env: {}, cwd, overrides: { [key]: value } as MigConfigInput });
    expect(fromFlag.problems).toEqual([{ key, source: 'flag', value, message, file: undefined }]);
    expect(fromFlag.message).toContain(`\n  ${key} (flag): ${message}\n`);
  });

  it('treats undefined values as unset and an empty file as setting nothing', () => {
    const resolved = resolveConfig({ env: {}, cwd, overrides: { lockTimeout: undefined }, file: fileAt(undefined) });
    expect(resolved.sources.lockTimeoutMs).toBe('default');
    expect(resolved.file).toBe('/srv/app/mig.config.json');
  });

  it.each([
    [null, 'null'],
    [[], '[]'],
    ['lockTimeout: 5s', '"lockTimeout: 5s"'],
    [() => ({}), 'a function'],
  ])('rejects a file that holds %j instead of an object', (config, shown) => {
    const error = problemsOf({ env: {}, cwd, file: fileAt(config) });
    expect(error.problems).toEqual([
      {
        key: '/srv/app/mig.config.json',
        source: 'file',
        value: undefined,
        file: '/srv/app/mig.config.json',
        message: `holds ${shown} where an object of settings is expected; use export default defineConfig({ ... }), or a JSON object`,
      },
    ]);
  });
});

describe('unknown keys', () => {
  it.each([
    ['lockTimout', 'lockTimeout'],
    ['lockTimeoutMs', 'lockTimeout'],
    ['locktimeout', 'lockTimeout'],
    ['databaseURL', 'databaseUrl'],
    ['DATABASE_URL', 'databaseUrl'],
    ['MIGRATIONS_DIR', 'migrationsDir'],
    ['migrationDir', 'migrationsDir'],
    ['dryrun', 'dryRun'],
    ['leaseTTL', 'leaseTtl'],
    ['cacheTtlMs', 'cacheTtl'],
    ['onPendng', 'onPending'],
    ['tabel', 'table'],
  ])('%s: did you mean %s?', (key, suggestion) => {
    const error = problemsOf({ env: {}, cwd, file: { path: '/srv/app/.migrc', config: { [key]: 1 } } });
    expect(error.problems).toEqual([
      {
        key,
        source: 'file',
        value: undefined,
        message: `unknown key; did you mean "${suggestion}"?`,
        file: '/srv/app/.migrc',
      },
    ]);
    expect(error.message).toContain(`  ${key} in /srv/app/.migrc: unknown key; did you mean "${suggestion}"?`);
  });

  it('lists the keys when nothing is close', () => {
    const error = problemsOf({ env: {}, cwd, overrides: { colour: 'blue' } as MigConfigInput });
    expect(error.problems[0]?.message).toBe(
      'unknown key; the keys are databaseUrl, databaseAuthToken, autoMigrate, lockTimeout, dryRun, cacheTtl, lockStrategy, migrationsDir, onPending, onFailure, leaseTtl, migrationTimeout, schema, table, transaction, ddlLockTimeout, lint, statementTimeout, tenants, tenantConcurrency, createTenantSchemas',
    );
  });
});

describe('every problem at once', () => {
  it('reports all bad values of every source in one ConfigError', () => {
    const error = problemsOf({
      cwd,
      env: {
        MIGRATION_LOCK_TIMEOUT: '-5s',
        AUTO_MIGRATE: 'maybe',
        MIGRATION_LOCK_STRATEGY: 'mutex',
        MIGRATION_CACHE_TTL: '30d',
        DATABASE_URL: 'mssql://localhost/app',
      },
      file: {
        path: '/srv/app/mig.config.json',
        config: { lockTimout: '5s', table: 'bad-name', leaseTtl: '2h', onPending: 'ignore' },
      },
      overrides: { dryRun: 'perhaps', schema: '' },
    });
    expect(error.name).toBe('ConfigError');
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error).toBeInstanceOf(Error);
    expect(error.problems.map((p) => `${p.source}:${p.key}`).sort()).toEqual(
      [
        'env:AUTO_MIGRATE',
        'env:DATABASE_URL',
        'env:MIGRATION_CACHE_TTL',
        'env:MIGRATION_LOCK_STRATEGY',
        'env:MIGRATION_LOCK_TIMEOUT',
        'file:leaseTtl',
        'file:lockTimout',
        'file:onPending',
        'file:table',
        'flag:dryRun',
        'flag:schema',
      ].sort(),
    );
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('Invalid mig configuration (11 problems):');
    expect(lines).toHaveLength(13);
    expect(lines).toContain('  MIGRATION_LOCK_TIMEOUT: "-5s" is not a duration; use milliseconds or 500ms, 30s, 5m');
    expect(lines).toContain('  lockTimout in /srv/app/mig.config.json: unknown key; did you mean "lockTimeout"?');
    expect(lines).toContain(
      '  dryRun (flag): "perhaps" is not a boolean; use true or false (also 1/0, yes/no, on/off)',
    );
    expect(lines.at(-1)).toMatch(/then start again\.$/);
  });

  it('says "1 problem" for one', () => {
    expect(problemsOf({ env: { AUTO_MIGRATE: 'x' }, cwd }).message).toMatch(
      /^Invalid mig configuration \(1 problem\):\n/,
    );
  });
});

describe('warnings for misspelt variables', () => {
  it.each([
    ['MIGRATION_DIR', 'MIGRATIONS_DIR'],
    ['MIGRATION_LOCK_TIMOUT', 'MIGRATION_LOCK_TIMEOUT'],
    ['MIGRATIONS_LOCK_STRATEGY', 'MIGRATION_LOCK_STRATEGY'],
    ['AUTO_MIGRATION', 'AUTO_MIGRATE'],
  ])('%s → did you mean %s?', (name, suggestion) => {
    const { warnings } = resolveConfig({ env: { [name]: 'x' }, cwd });
    expect(warnings).toEqual([`${name} is set but mig does not read it; did you mean ${suggestion}?`]);
  });

  it('stays quiet about other variables, blank ones and names that are not close', () => {
    const env = { DATABASE_URI: 'x', MIGRATION_DIR: '', MIGRATION_TOOL_HOME: '/opt/tool', LOCK_TIMEOUT: '1' };
    expect(resolveConfig({ env, cwd }).warnings).toEqual([]);
  });
});

describe('the resolved object', () => {
  it('is frozen', () => {
    const resolved = resolveConfig({ env: {}, cwd });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.values)).toBe(true);
    expect(Object.isFrozen(resolved.sources)).toBe(true);
    expect(Object.isFrozen(resolved.warnings)).toBe(true);
  });

  it('defaults env and cwd to the process', () => {
    // Blank counts as unset, so whatever the machine's environment holds cannot leak into this test.
    for (const name of Object.values(ENV)) vi.stubEnv(name, '');
    vi.stubEnv('MIGRATION_LOCK_TIMEOUT', '4s');
    try {
      const resolved = resolveConfig();
      expect(resolved.values.lockTimeoutMs).toBe(4_000);
      expect(resolved.values.migrationsDir).toBe(resolve(process.cwd(), 'migrations'));
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
