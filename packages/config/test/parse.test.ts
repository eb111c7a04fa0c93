import { InvalidOptionError, MigErrorCode } from '@mig/core';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, defineConfig, ENV, parseBoolean, parseDuration } from '../src/index.js';

describe('parseDuration', () => {
  it.each([
    [0, 0],
    [250, 250],
    ['0', 0],
    ['500', 500],
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['24h', 86_400_000],
    [' 10 s ', 10_000],
    ['1.1s', 1_100],
  ] as const)('%j is %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each(['-5s', '-5', '1.5', 'abc', '', '5d', '1y', '0.5ms', '1e3', '30 seconds', 's', '5 m s', '10S', '5M'])(
    'rejects %j, saying what is accepted',
    (input) => {
      expect(() => parseDuration(input)).toThrow(InvalidOptionError);
      expect(() => parseDuration(input)).toThrow(
        `${JSON.stringify(input)} is not a duration; use milliseconds or 500ms, 30s, 5m`,
      );
    },
  );

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])('rejects the number %d', (input) => {
    expect(() => parseDuration(input)).toThrow(/is not a duration; use milliseconds or 500ms, 30s, 5m/);
  });

  it('names the option it parsed in the error, with the INVALID_OPTION code', () => {
    expect(() => parseDuration('soon', 'SHUTDOWN_GRACE')).toThrow(
      expect.objectContaining({ code: MigErrorCode.InvalidOption, option: 'SHUTDOWN_GRACE' }),
    );
    expect(() => parseBoolean('maybe')).toThrow(expect.objectContaining({ option: 'boolean' }));
  });
});

describe('parseBoolean', () => {
  it.each([
    [true, true],
    [false, false],
    ['true', true],
    ['false', false],
    ['1', true],
    ['0', false],
    ['yes', true],
    ['no', false],
    ['on', true],
    ['off', false],
    [' TRUE ', true],
    ['Off', false],
    ['YES', true],
  ] as const)('%j is %s', (input, expected) => {
    expect(parseBoolean(input)).toBe(expected);
  });

  it.each(['maybe', '2', 'tru', '', 'y', 'enabled', '-1'])('rejects %j, saying what is accepted', (input) => {
    expect(() => parseBoolean(input)).toThrow(InvalidOptionError);
    expect(() => parseBoolean(input)).toThrow(
      `${JSON.stringify(input)} is not a boolean; use true or false (also 1/0, yes/no, on/off)`,
    );
  });
});

describe('public constants', () => {
  it('names every environment variable of the design', () => {
    expect(Object.values(ENV).sort()).toEqual(
      [
        'AUTO_MIGRATE',
        'DATABASE_AUTH_TOKEN',
        'DATABASE_URL',
        'MIGRATIONS_DIR',
        'MIGRATION_CACHE_TTL',
        'MIGRATION_DRY_RUN',
        'MIGRATION_LOCK_STRATEGY',
        'MIGRATION_LOCK_TIMEOUT',
        'MIGRATION_TIMEOUT',
        'MIGRATION_DDL_LOCK_TIMEOUT',
        'MIGRATION_STATEMENT_TIMEOUT',
        'MIGRATION_TENANTS',
        'MIGRATION_TENANT_CONCURRENCY',
      ].sort(),
    );
  });

  it('has the documented defaults, frozen', () => {
    expect(DEFAULTS).toEqual({
      databaseUrl: undefined,
      lockTimeoutMs: 30_000,
      dryRun: false,
      cacheTtlMs: 300_000,
      lockStrategy: 'advisory',
      migrationsDir: './migrations',
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
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
  });

  it('defineConfig returns its argument', () => {
    const config = { lockTimeout: '1m', lockStrategy: 'lease' } as const;
    expect(defineConfig(config)).toBe(config);
  });
});
