import { describe, expect, it } from 'vitest';
import type { StoreHead } from '../../src/head.js';
import { computeChecksum, EMPTY_HEAD, type Migration, nextDigest } from '../../src/migration.js';
import { createMigrator } from '../../src/migrator.js';
import type { AppliedMigration, MigrationStore, StoreInspector } from '../../src/ports.js';

// The inspector is optional: a store without one still migrates, and the migrator falls back to what it knows
// by itself. The Kysely store (with its inspector) runs the same paths against real databases in the adapter's
// tests; this is the minimal store an adapter author starts from: records in memory, nothing to inspect.

function migration(name: string, sql?: string): Migration {
  return {
    name,
    checksum: computeChecksum(sql ?? name),
    origin: `test:${name}`,
    sql,
    load: async () => ({ transactional: true, up: async () => {}, down: async () => {} }),
  };
}

/** A store whose records live in an array: no inspector, no lock, no fence. */
function memoryStore(inspector?: StoreInspector): MigrationStore & { readonly records: AppliedMigration[] } {
  const records: AppliedMigration[] = [];
  let head: StoreHead | null = null;
  const onHead = (expected: StoreHead) => {
    const current = head ?? EMPTY_HEAD;
    if (current.count !== expected.count || current.digest !== expected.digest) throw new Error('conflict');
  };
  return {
    records,
    target: { system: 'memory', namespace: 'test', server: 'embedded', table: 'records' },
    inspector,
    readHead: async () => head,
    readApplied: async () => [...records],
    prepare: async () => {
      head ??= EMPTY_HEAD;
    },
    async apply(m, { expectedHead }) {
      onHead(expectedHead);
      await (await m.load()).up(undefined);
      const next = { count: expectedHead.count + 1, digest: nextDigest(expectedHead.digest, m.name, m.checksum) };
      records.push({
        name: m.name,
        checksum: m.checksum,
        digest: next.digest,
        appliedAt: new Date(),
        durationMs: 0,
        transactional: true,
        origin: 'applied',
        adoptedFrom: null,
        runnable: true,
        repairs: [],
      });
      head = next;
      return next;
    },
    revert: async () => {
      throw new Error('not used here');
    },
    record: async () => {
      throw new Error('not used here');
    },
    rewrite: async () => {
      throw new Error('not used here');
    },
    bind() {
      return this;
    },
  };
}

describe('a store without an inspector', () => {
  const first = migration('001_users', 'create table users (id int);');
  const second = migration('002_code');

  it('previews a dry run with each SQL migration its own text, and writes nothing', async () => {
    const store = memoryStore();
    const migrator = createMigrator({ source: { description: 'test', load: async () => [first, second] }, store });
    const { results, error } = await migrator.up({ dryRun: true });
    expect(error).toBeUndefined();
    expect(results.map((r) => [r.name, r.status, r.sql])).toEqual([
      ['001_users', 'planned', ['create table users (id int);']],
      ['002_code', 'planned', undefined],
    ]);
    expect(await store.readHead()).toBeNull();
  });

  it('finds no leftovers and no other tool history, and applies from the first migration', async () => {
    const store = memoryStore();
    const migrator = createMigrator({ source: { description: 'test', load: async () => [first, second] }, store });
    expect(await migrator.foreignHistories()).toEqual([]);
    expect((await migrator.inspect()).leftovers).toEqual([]);
    const { results, error } = await migrator.up();
    expect(error).toBeUndefined();
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(store.records.map((r) => r.name)).toEqual(['001_users', '002_code']);
  });
});

describe('a store with an inspector', () => {
  const first = migration('001_users', 'create table users (id int);');

  it('is asked for previews, leftovers and other tools histories; an unknown preview falls back to the SQL', async () => {
    const asked: string[] = [];
    let foreign: { tool: string; table: string; applied: number }[] = [];
    const inspector: StoreInspector = {
      async preview(m) {
        asked.push(`preview ${m.name}`);
        return undefined;
      },
      async leftovers(list) {
        asked.push(`leftovers ${list.map((m) => m.name).join(',')}`);
        return [{ migration: '001_users', kind: 'index', object: 'users_idx', remove: 'drop index users_idx' }];
      },
      async foreignHistories() {
        asked.push('foreign');
        return foreign;
      },
    };
    const migrator = createMigrator({
      source: { description: 'test', load: async () => [first] },
      store: memoryStore(inspector),
    });
    expect((await migrator.up({ dryRun: true })).results[0]?.sql).toEqual(['create table users (id int);']);
    expect((await migrator.inspect()).leftovers.map((l) => l.object)).toEqual(['users_idx']);
    foreign = [{ tool: 'knex', table: 'knex_migrations', applied: 3 }];
    expect((await migrator.up()).error?.code).toBe('FOREIGN_HISTORY');
    expect(asked).toEqual(['foreign', 'preview 001_users', 'leftovers 001_users', 'foreign']);
  });
});
