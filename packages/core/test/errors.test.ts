import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  describeHolder,
  describeThrown,
  InvalidTargetError,
  isMigError,
  LockTimeoutError,
  MigError,
  MigErrorCode,
  MigrationConflictError,
  MigrationDriftError,
  MigrationFailedError,
  PendingMigrationsError,
} from '../src/errors.js';
import { VERSION } from '../src/version.js';

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

  it('say which part of the head a conflict found moved: the count, or the digest at the same count', () => {
    const expected = { count: 3, digest: 'a'.repeat(64) };
    const behind = new MigrationConflictError('004_d', expected, { count: 4, digest: 'b'.repeat(64) });
    expect(behind.code).toBe(MigErrorCode.Conflict);
    expect(behind.name).toBe('MigrationConflictError');
    expect(behind.message).toContain('(expected 3 applied, found 4)');
    expect(behind.message).toContain('Nothing was recorded for it; run again.');
    const forged = new MigrationConflictError('004_d', expected, { count: 3, digest: 'c'.repeat(64) });
    expect(forged.message).toContain('3 applied as expected, but another history');
    expect(forged.message).toContain(`head digest ${'c'.repeat(12)}, expected ${'a'.repeat(12)}`);
    expect(forged.context).toMatchObject({ expectedCount: 3, foundCount: 3, foundDigest: 'c'.repeat(64) });
    expect([forged.expected, forged.found]).toEqual([expected, { count: 3, digest: 'c'.repeat(64) }]);
    const unread = new MigrationConflictError('004_d', expected, null);
    expect(unread.message).toContain('the head could not be read');
  });

  it('name the targets an operation cannot take', () => {
    const error = new InvalidTargetError('002_b', 'Migration "002_b" has no down migration.');
    expect(error).toBeInstanceOf(MigError);
    expect(isMigError(error, MigErrorCode.InvalidTarget)).toBe(true);
    expect(error.name).toBe('InvalidTargetError');
    expect(error.targets).toEqual(['002_b']);
    expect(error.context).toEqual({ migrations: ['002_b'] });
    const given = new InvalidTargetError(['a', 'b'], 'Cannot revert "a", "b".', { context: { target: 'a' } });
    expect([given.targets, given.context]).toEqual([['a', 'b'], { target: 'a' }]);
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
