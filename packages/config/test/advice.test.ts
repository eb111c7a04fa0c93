import {
  ConnectionError,
  LockLostError,
  LockTimeoutError,
  MigError,
  MigErrorCode,
  MigrationDriftError,
  MigrationSourceError,
  PendingMigrationsError,
} from '@mig/core';
import { describe, expect, it } from 'vitest';
import { adviceFor, ConfigError } from '../src/index.js';

const sourceError = (reason: string) =>
  new MigrationSourceError('The migrations folder /app/migrations is unusable.', {
    context: { folder: '/app/migrations', reason },
  });

describe('adviceFor', () => {
  it('names a setting as it was set: the config file key where the file set it, the flag where a flag did', () => {
    const unreachable = new ConnectionError('postgresql 127.0.0.1:1/shop', 3, 1_000, new Error('ECONNREFUSED'));
    const fromFile = { file: '/srv/app/mig.config.json', sources: { databaseUrl: 'file' } } as const;
    expect(adviceFor(unreachable, fromFile as never)).toBe(
      'Check databaseUrl in mig.config.json: host, port, database name and credentials.',
    );
    expect(adviceFor(unreachable, fromFile as never)).not.toMatch(/DATABASE_URL/);
    const fromFlag = { file: undefined, sources: { databaseUrl: 'flag' } } as const;
    expect(adviceFor(unreachable, fromFlag as never)).toBe('Check --url: host, port, database name and credentials.');
    const pending = new PendingMigrationsError(['001_todos']);
    expect(adviceFor(pending, { file: '/srv/app/mig.config.ts', sources: { autoMigrate: 'file' } } as never)).toMatch(
      /set autoMigrate: 'true' in mig.config.ts to apply them on first use/,
    );
  });

  it('advises to raise the migration timeout when a migration outran it', () => {
    const timeout = new MigError(MigErrorCode.MigrationTimeout, 'Migration "002_slow" ran longer than 2 s.');
    expect(adviceFor(timeout)).toMatch(/MIGRATION_TIMEOUT \(or --migration-timeout\)/);
  });

  it.each([
    ['pending migrations', new PendingMigrationsError(['001_todos']), [/`mig up`/, /AUTO_MIGRATE=true/]],
    [
      'an unreachable database',
      new ConnectionError('postgresql 127.0.0.1:1/shop', 3, 1_000, new Error('ECONNREFUSED')),
      [/DATABASE_URL/, /--url/],
    ],
    [
      'a lock wait that timed out',
      new LockTimeoutError('public.mig_migrations', 30_000, null),
      [/MIGRATION_LOCK_TIMEOUT/, /--lock-timeout/, /`mig unlock`/],
    ],
    [
      'a session lock behind a transaction pooler',
      new LockLostError('public.mig_migrations', 'this session does not hold it', 'session-not-holder'),
      [/MIGRATION_LOCK_STRATEGY=lease/, /--lock-strategy lease/, /transaction pooler/],
    ],
    ['an expired lease', new LockLostError('public.mig_migrations', 'lease expired', 'expired'), [/leaseTtl/]],
    ['a missing migrations folder', sourceError('missing-folder'), [/MIGRATIONS_DIR/, /--migrations/]],
    ['an unreadable migrations folder', sourceError('unreadable-folder'), [/MIGRATIONS_DIR/]],
    ['an empty migrations folder', sourceError('empty-folder'), [/`mig create NAME`/]],
    ['drift', new MigrationDriftError([{ kind: 'missing', name: '001_todos' }]), [/`mig status`/, /`mig verify`/]],
  ] as const)('advises on %s, naming the settings to change', (_, error, patterns) => {
    const advice = adviceFor(error);
    for (const pattern of patterns) expect(advice).toMatch(pattern);
  });

  it('reads only code and context, so a serialized error gets the same advice', () => {
    const error = sourceError('missing-folder');
    expect(adviceFor(JSON.parse(JSON.stringify({ code: error.code, context: error.context })))).toBe(adviceFor(error));
    expect(adviceFor({ code: MigErrorCode.Pending })).toBe(adviceFor(new PendingMigrationsError(['x'])));
  });

  it('has nothing to add where the message says it all, or for what is not a mig error', () => {
    expect(adviceFor(new LockLostError('k', 'the session ended'))).toBeUndefined();
    expect(adviceFor(new MigrationSourceError('Two files have the same migration name.'))).toBeUndefined();
    expect(adviceFor(new MigError(MigErrorCode.MigrationFailed, 'Failed to apply migration "x".'))).toBeUndefined();
    expect(adviceFor(new ConfigError([]))).toBeUndefined();
    for (const value of [new Error('boom'), 'PENDING', null, undefined, { code: 'toString' }, { code: 42 }]) {
      expect(adviceFor(value)).toBeUndefined();
    }
  });
});

describe('ConfigError', () => {
  it('is a MigError with the CONFIG_INVALID code, listing where the problems are', () => {
    const error = new ConfigError([
      { key: 'MIGRATION_LOCK_TIMEOUT', source: 'env', value: '-5s', message: '"-5s" is not a duration' },
    ]);
    expect(error).toBeInstanceOf(MigError);
    expect(error.code).toBe(MigErrorCode.InvalidConfig);
    expect(error.name).toBe('ConfigError');
    expect(error.context).toEqual({ keys: ['MIGRATION_LOCK_TIMEOUT'] });
    expect(error.message).toBe(
      'Invalid mig configuration (1 problem):\n  MIGRATION_LOCK_TIMEOUT: "-5s" is not a duration\n' +
        'Fix these in the environment, the config file or the command line, then start again.',
    );
  });
});
