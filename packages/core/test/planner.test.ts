import { describe, expect, it } from 'vitest';
import { MigrationSourceError } from '../src/errors.js';
import {
  computeChecksum,
  EMPTY_DIGEST,
  EMPTY_HEAD,
  type Migration,
  nextDigest,
  prefixDigests,
  validateMigrations,
} from '../src/migration.js';
import { LocalHistory, planMigrations } from '../src/planner.js';

function m(name: string, content = name): Migration {
  return {
    name,
    checksum: computeChecksum(content),
    origin: `test:${name}`,
    load: async () => ({ transactional: true, up: async () => {} }),
  };
}

const applied = (...list: Migration[]) => list.map(({ name, checksum }) => ({ name, checksum }));

describe('planMigrations', () => {
  const [a, b, c] = [m('001_a'), m('002_b'), m('003_c')] as [Migration, Migration, Migration];

  it('lists every local migration as pending on an empty store', () => {
    const plan = planMigrations([a, b, c], []);
    expect(plan.pending.map((x) => x.name)).toEqual(['001_a', '002_b', '003_c']);
    expect(plan.problems).toEqual([]);
  });

  it('returns the unapplied tail as pending', () => {
    const plan = planMigrations([a, b, c], applied(a, b));
    expect(plan.applied).toEqual(['001_a', '002_b']);
    expect(plan.pending.map((x) => x.name)).toEqual(['003_c']);
  });

  it('reports an applied migration whose content changed', () => {
    const plan = planMigrations([a, m('002_b', 'edited'), c], applied(a, b));
    expect(plan.problems).toEqual([
      {
        kind: 'changed',
        name: '002_b',
        appliedChecksum: b.checksum,
        localChecksum: computeChecksum('edited'),
      },
    ]);
  });

  it('reports an applied migration with no local file as missing', () => {
    const plan = planMigrations([a, c], applied(a, b));
    expect(plan.problems).toEqual([{ kind: 'missing', name: '002_b' }]);
  });

  it('reports an unapplied migration older than the latest applied one as out of order', () => {
    const plan = planMigrations([a, b, c], applied(a, c));
    expect(plan.problems).toEqual([{ kind: 'out-of-order', name: '002_b', latestApplied: '003_c' }]);
    expect(plan.pending).toEqual([]);
  });

  it('reports every problem at once', () => {
    const plan = planMigrations([m('001_a', 'x'), b, m('004_d')], applied(a, m('003_c')));
    expect(plan.problems.map((p) => `${p.kind}:${p.name}`)).toEqual([
      'changed:001_a',
      'missing:003_c',
      'out-of-order:002_b',
    ]);
  });
});

describe('LocalHistory', () => {
  const list = [m('001_a'), m('002_b'), m('003_c')];
  const history = new LocalHistory(list);
  const digests = prefixDigests(list);

  it('chains digests from the empty digest', () => {
    expect(digests[0]).toBe(EMPTY_DIGEST);
    expect(digests[1]).toBe(nextDigest(EMPTY_DIGEST, '001_a', list[0]?.checksum as string));
    expect(history.digest).toBe(digests[3]);
  });

  it('answers pending from the head alone when the head matches a prefix', () => {
    expect(history.pendingAfter(EMPTY_HEAD)?.map((x) => x.name)).toEqual(['001_a', '002_b', '003_c']);
    expect(history.pendingAfter({ count: 2, digest: digests[2] as string })?.map((x) => x.name)).toEqual(['003_c']);
    expect(history.pendingAfter({ count: 3, digest: digests[3] as string })).toEqual([]);
  });

  it('refuses to answer when the head does not match (drift needs the full comparison)', () => {
    expect(history.pendingAfter({ count: 2, digest: digests[1] as string })).toBeUndefined();
    expect(history.pendingAfter({ count: 4, digest: digests[3] as string })).toBeUndefined();
    expect(history.pendingAfter({ count: -1, digest: EMPTY_DIGEST })).toBeUndefined();
  });

  it('gives a different digest when any checksum in the prefix changes', () => {
    const edited = new LocalHistory([m('001_a', 'edited'), m('002_b'), m('003_c')]);
    expect(edited.pendingAfter({ count: 2, digest: digests[2] as string })).toBeUndefined();
  });
});

describe('validateMigrations', () => {
  it('sorts by name in code-unit order', () => {
    const sorted = validateMigrations([m('010_c'), m('002_b'), m('001_a')], 'test');
    expect(sorted.map((x) => x.name)).toEqual(['001_a', '002_b', '010_c']);
  });

  it('rejects duplicate names, naming both origins', () => {
    expect(() => validateMigrations([m('001_a'), m('001_a')], 'test list')).toThrow(
      /"001_a" is defined twice: test:001_a and test:001_a/,
    );
  });

  it('rejects an invalid checksum and an empty name, all at once', () => {
    const bad = { ...m('002_b'), checksum: 'nope' };
    const nameless = { ...m('x'), name: ' ' };
    const error = (() => {
      try {
        validateMigrations([bad, nameless], 'test list');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MigrationSourceError);
    expect((error as Error).message).toMatch(/invalid checksum "nope"/);
    expect((error as Error).message).toMatch(/empty name/);
  });
});

describe('computeChecksum', () => {
  it('ignores line-ending style and a byte-order mark', () => {
    expect(computeChecksum('a;\r\nb;\r\n')).toBe(computeChecksum('a;\nb;\n'));
    expect(computeChecksum('\uFEFFa;')).toBe(computeChecksum('a;'));
    expect(computeChecksum('a;')).not.toBe(computeChecksum('a; '));
  });
});
