import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeThrown } from '../src/adapter-kit.js';
import {
  describeHolder,
  isMigError,
  LockTimeoutError,
  MigError,
  MigErrorCode,
  MigrationDriftError,
  MigrationFailedError,
  PendingMigrationsError,
  VERSION,
} from '../src/index.js';

describe('errors', () => {
  it('carry a code, a name, context and the native cause', () => {
    const cause = new Error('relation "users" already exists');
    const error = new MigrationFailedError('001_users', 'up', cause, true);
    expect(error).toBeInstanceOf(MigError);
    expect(error.code).toBe(MigErrorCode.MigrationFailed);
    expect(error.name).toBe('MigrationFailedError');
    expect(error.cause).toBe(cause);
    expect(error.context).toEqual({ migration: '001_users', direction: 'up', transactional: true });
    expect(error.message).toContain('Failed to apply migration "001_users": relation "users" already exists');
    expect(error.message).toContain('rolled back');
    expect(isMigError(error, MigErrorCode.MigrationFailed)).toBe(true);
    expect(isMigError(cause)).toBe(false);
  });

  it('describe thrown values that are not errors', () => {
    expect(describeThrown('plain string')).toBe('plain string');
    expect(describeThrown({ reason: 42 })).toBe('{"reason":42}');
    expect(describeThrown(undefined)).toBe('undefined');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(describeThrown(circular)).toBe('[object Object]');
  });

  it('list every drift problem with what to do', () => {
    const error = new MigrationDriftError([
      { kind: 'changed', name: '001_a', appliedChecksum: 'a'.repeat(64), localChecksum: 'b'.repeat(64) },
      { kind: 'missing', name: '002_b' },
      { kind: 'out-of-order', name: '000_z', latestApplied: '002_b' },
    ]);
    expect(error.message).toContain('"001_a" was changed after it was applied');
    expect(error.message).toContain('"002_b" was applied but is no longer among the local migrations');
    expect(error.message).toContain('"000_z" is not applied but sorts before the applied "002_b"');
    expect(error.message).toContain('nothing was applied');
  });

  it('name the lock holder and how long it has held the lock', () => {
    const since = new Date(Date.now() - 12_000);
    const error = new LockTimeoutError('advisory lock 1/2 on public.mig_migrations', 5_012, {
      pid: 4242,
      applicationName: 'api',
      since,
    });
    expect(error.message).toMatch(/Timed out after 5012 ms waiting for the migration lock advisory lock 1\/2/);
    expect(error.message).toContain('backend pid 4242');
    expect(error.message).toContain('application "api"');
    expect(error.message).toContain(since.toISOString());
    expect(describeHolder(null)).toBe('an unknown holder');
  });

  it('say how to resolve pending migrations', () => {
    const error = new PendingMigrationsError(['001', '002', '003', '004', '005', '006', '007']);
    expect(error.message).toContain('7 migration(s) pending');
    expect(error.message).toContain('and 2 more');
    expect(error.message).toContain('automatic migration');
  });

  it('keep VERSION equal to package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });
});
