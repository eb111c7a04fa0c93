import { describe, expect, it } from 'vitest';
import { type ConfigLogger, logConfig, resolveConfig, summarizeConfig } from '../src/index.js';

function recordingLogger() {
  const calls: { level: 'info' | 'warn'; fields: object; msg: string | undefined }[] = [];
  const logger: ConfigLogger = {
    info: (fields, msg) => calls.push({ level: 'info', fields, msg }),
    warn: (fields, msg) => calls.push({ level: 'warn', fields, msg }),
  };
  return { calls, logger };
}

const resolved = resolveConfig({
  cwd: '/srv/app',
  env: {
    NODE_ENV: 'production',
    AUTO_MIGRATE: 'true',
    DATABASE_URL: 'postgres://app:pw@db/app',
    DATABASE_AUTH_TOKEN: 'tok-s3cret',
  },
  file: { path: '/srv/app/mig.config.json', config: { lockTimeout: '10s' } },
  overrides: { dryRun: true },
});

describe('summarizeConfig', () => {
  it('gives every key its value and source, the URL redacted and the auth token masked', () => {
    expect(summarizeConfig(resolved)).toEqual({
      databaseUrl: { value: 'postgres://app:***@db/app', source: 'env' },
      databaseAuthToken: { value: '***', source: 'env' },
      autoMigrate: { value: true, source: 'env' },
      lockTimeoutMs: { value: 10_000, source: 'file' },
      dryRun: { value: true, source: 'flag' },
      cacheTtlMs: { value: 300_000, source: 'default' },
      lockStrategy: { value: 'advisory', source: 'default' },
      migrationsDir: { value: '/srv/app/migrations', source: 'default' },
      onPending: { value: 'warn', source: 'default' },
      onFailure: { value: 'throw', source: 'default' },
      leaseTtlMs: { value: 30_000, source: 'default' },
      migrationTimeoutMs: { value: undefined, source: 'default' },
      schema: { value: 'public', source: 'default' },
      table: { value: 'mig_migrations', source: 'default' },
      transaction: { value: 'each', source: 'default' },
      ddlLockTimeoutMs: { value: 1_000, source: 'default' },
      lint: { value: 'error', source: 'default' },
      statementTimeoutMs: { value: undefined, source: 'default' },
      tenants: { value: undefined, source: 'default' },
      tenantConcurrency: { value: 4, source: 'default' },
      createTenantSchemas: { value: true, source: 'default' },
    });
  });

  it('shows an unset URL as undefined', () => {
    expect(summarizeConfig(resolveConfig({ env: {} })).databaseUrl).toEqual({ value: undefined, source: 'default' });
  });
});

describe('logConfig', () => {
  it('logs one structured info line, then one warning per warning, pino style', () => {
    const { calls, logger } = recordingLogger();
    logConfig(resolved, logger);
    expect(calls.filter((c) => c.level === 'info')).toEqual([
      {
        level: 'info',
        fields: { config: summarizeConfig(resolved), file: '/srv/app/mig.config.json', nodeEnv: 'production' },
        msg: 'mig configuration',
      },
    ]);
    expect(calls.filter((c) => c.level === 'warn')).toEqual([
      {
        level: 'warn',
        fields: { nodeEnv: 'production', file: '/srv/app/mig.config.json' },
        msg: resolved.warnings[0],
      },
    ]);
    expect(calls[0]?.level).toBe('info');
  });

  it('logs no warning when there is none', () => {
    const { calls, logger } = recordingLogger();
    logConfig(resolveConfig({ env: { NODE_ENV: 'test' } }), logger);
    expect(calls.map((c) => c.level)).toEqual(['info']);
  });
});
