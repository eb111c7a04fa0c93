import { computeChecksum } from '@mig/core/adapter';
import { describe, expect, it } from 'vitest';
import { createListSource } from '../../src/index.js';
import { loadError } from './load-error.js';

describe('createListSource', () => {
  it('loads SQL and function migrations sorted by name', async () => {
    const source = createListSource([
      { name: '002_fn', up: async () => {}, checksum: 'c'.repeat(64) },
      { name: '001_sql', sql: 'create table t (x int);' },
    ]);
    const migrations = await source.load();
    expect(migrations.map((m) => m.name)).toEqual(['001_sql', '002_fn']);
    expect(migrations[0]?.checksum).toBe(computeChecksum('create table t (x int);'));
    expect(migrations[1]?.checksum).toBe('c'.repeat(64));
  });

  it('rejects an empty list, duplicates and entries without names', async () => {
    expect((await loadError(() => createListSource([]).load())).message).toContain('is empty');
    const dup = createListSource([
      { name: 'a', sql: 'select 1' },
      { name: 'a', sql: 'select 2' },
    ]);
    expect((await loadError(() => dup.load())).message).toContain('"a" is defined twice');
    const nameless = createListSource([{ sql: 'select 1' } as never]);
    expect((await loadError(() => nameless.load())).message).toContain('Entry 0');
  });
});
