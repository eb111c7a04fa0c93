import { describe, expect, it } from 'vitest';
import { HistoryMismatchError, MigErrorCode } from '../src/errors.js';
import { planAdoption, planBaseline, planRepair } from '../src/internal/history-plan.js';
import { computeChecksum, type Migration } from '../src/migration.js';
import { LocalHistory } from '../src/planner.js';
import type { AppliedMigration } from '../src/ports.js';

function m(name: string, content = name): Migration {
  return {
    name,
    checksum: computeChecksum(content),
    origin: `test:${name}`,
    load: async () => ({ transactional: true, up: async () => {} }),
  };
}

function record(migration: Pick<Migration, 'name' | 'checksum'>): AppliedMigration {
  return {
    name: migration.name,
    checksum: migration.checksum,
    digest: '',
    appliedAt: new Date(0),
    durationMs: 1,
    transactional: true,
    origin: 'applied',
    adoptedFrom: null,
    runnable: true,
    repairs: [],
  };
}

const [a, b, c, d] = [m('001_a'), m('002_b'), m('003_c'), m('004_d')] as [Migration, Migration, Migration, Migration];
const local = new LocalHistory([a, b, c, d]);
const names = (list: readonly Migration[]) => list.map((x) => x.name);
const kysely = (applied: string[], extra = {}) => ({
  tool: 'kysely',
  table: 'public.kysely_migration',
  applied,
  runnable: true,
  ...extra,
});

function mismatch(fn: () => unknown): HistoryMismatchError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HistoryMismatchError);
    return error as HistoryMismatchError;
  }
  throw new Error('expected a HistoryMismatchError');
}

describe('planAdoption', () => {
  it('records the prefix the tool applied, in name order, whatever order the tool applied it in', () => {
    expect(names(planAdoption(local, [], kysely(['002_b', '001_a', '003_c'])))).toEqual(['001_a', '002_b', '003_c']);
  });

  it('records nothing new the second time, and only what is missing after a partial adoption', () => {
    expect(planAdoption(local, [record(a), record(b), record(c)], kysely(['001_a', '002_b', '003_c']))).toEqual([]);
    expect(names(planAdoption(local, [record(a)], kysely(['001_a', '002_b'])))).toEqual(['002_b']);
    // mig went on after the adoption (004_d is its own): adopting again records nothing.
    expect(planAdoption(local, [a, b, c, d].map(record), kysely(['001_a', '002_b']))).toEqual([]);
  });

  it('adopts nothing from an empty history', () => {
    expect(planAdoption(local, [], kysely([]))).toEqual([]);
  });

  it('refuses, naming each case, when the history and the folder disagree', () => {
    const error = mismatch(() => planAdoption(local, [], kysely(['001_a', '003_c', '009_gone'])));
    expect(error.code).toBe(MigErrorCode.HistoryMismatch);
    expect(error.cases).toHaveLength(2);
    expect(error.message).toContain(
      '"009_gone" is applied in kysely\'s history (public.kysely_migration) but has no file',
    );
    expect(error.message).toContain(
      '"002_b" was never applied by kysely but sorts before its last applied migration "003_c"',
    );
    expect(error.message).toContain('nothing was recorded');
  });

  it("refuses when mig's own records disagree with the tool's history, or their files changed", () => {
    const other = mismatch(() => planAdoption(local, [record(b)], kysely(['001_a', '002_b'])));
    expect(other.message).toContain(
      'mig\'s record 1 is "002_b" where kysely\'s history (public.kysely_migration) has "001_a"',
    );
    const changed = mismatch(() =>
      planAdoption(local, [record({ name: '001_a', checksum: computeChecksum('old') })], kysely(['001_a'])),
    );
    expect(changed.message).toContain('"001_a" is recorded by mig with another checksum');
  });

  it('names the entries the reader could not map', () => {
    const error = mismatch(() => planAdoption(local, [], kysely(['001_a'], { unmatched: ['row 7 matches no file'] })));
    expect(error.cases).toEqual(['row 7 matches no file']);
  });
});

describe('planBaseline', () => {
  it('records every migration up to and including the target', () => {
    expect(names(planBaseline(local, [], '002_b'))).toEqual(['001_a', '002_b']);
  });

  it('is a no-op when exactly that baseline is recorded, and refuses over other records', () => {
    expect(planBaseline(local, [record(a), record(b)], '002_b')).toEqual([]);
    const error = mismatch(() => planBaseline(local, [record(a)], '002_b'));
    expect(error.message).toContain("mig's store already has 1 record(s)");
  });

  it('refuses an unknown target with INVALID_TARGET', () => {
    expect(() => planBaseline(local, [], '999_nope')).toThrow(
      expect.objectContaining({ code: MigErrorCode.InvalidTarget }),
    );
  });
});

describe('planRepair', () => {
  const edited = new LocalHistory([a, m('002_b', 'edited'), c]);

  it('replaces the checksums of changed applied migrations, and touches nothing else', () => {
    const { rewrite, changes } = planRepair(edited, [record(a), record(b)], undefined);
    expect(rewrite).toEqual({ checksums: [{ name: '002_b', checksum: computeChecksum('edited') }], forget: [] });
    expect(changes).toEqual([{ kind: 'checksum', name: '002_b', from: b.checksum, to: computeChecksum('edited') }]);
  });

  it('has nothing to do when every applied file matches', () => {
    expect(planRepair(local, [record(a), record(b)], undefined).changes).toEqual([]);
  });

  it('forgets only the record of a deleted file, and only when asked by name', () => {
    const withoutB = new LocalHistory([a, c]);
    // Without --forget, a missing file's record is left alone.
    expect(planRepair(withoutB, [record(a), record(b)], undefined).changes).toEqual([]);
    const { rewrite } = planRepair(withoutB, [record(a), record(b)], '002_b');
    expect(rewrite).toEqual({ checksums: [], forget: ['002_b'] });
    expect(mismatch(() => planRepair(local, [record(a)], '001_a')).message).toContain(
      'its file is among the local migrations',
    );
    expect(() => planRepair(local, [record(a)], '003_c')).toThrow(/There is no record named "003_c"/);
  });
});
