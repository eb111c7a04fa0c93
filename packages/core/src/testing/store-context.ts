import { afterEach, beforeEach, expect } from 'vitest';
import type { StoreHead } from '../head.js';
import { type Migration, nextDigest } from '../migration.js';
import type { AppliedMigration, MigrationStore } from '../ports.js';
import type { CaseControl, caseRegistry } from './cases.js';
import { buildContractMigration, type MigrationSpec, sortedEffects } from './migration-spec.js';
import type { StoreCapabilities, StoreCase, StoreContractHarness, StoreFixture } from './store-harness.js';

// What the groups of store cases share: the fixture of the running case, and helpers over it.

/** The fixture of the case that is running, and its store. */
export interface StoreCaseState<Db, F> {
  readonly fixture: StoreFixture<Db, F>;
  readonly store: MigrationStore<Db, F>;
}

/** Everything a caller can observe of the store and the database. */
export interface StoreSnapshot {
  readonly head: StoreHead | null;
  readonly applied: readonly AppliedMigration[];
  readonly effects: string[];
}

/** What the groups of cases share: the harness's capabilities, and helpers over the running case's fixture. */
export interface StoreContext<Db, F> {
  readonly capabilities: StoreCapabilities;
  /** Registers a case; `run` gets the fixture (and store) opened for it, and what the case can do. */
  test(
    title: StoreCase,
    run: (state: StoreCaseState<Db, F>, control: CaseControl) => Promise<void> | void,
    options?: { readonly skip?: boolean },
  ): void;
  ok(id: string): Migration<Db>;
  failing(id: string): Migration<Db>;
  outside(id: string, fails?: boolean): Migration<Db>;
  effects(): Promise<string[]>;
  snapshot(): Promise<StoreSnapshot>;
  /** Applies on the current head and checks the head it returns. */
  applyOnHead(m: Migration<Db>): Promise<StoreHead>;
}

/** Opens a fixture before each case and closes it after; call inside the suite's `describe`. */
export function storeContext<Db, F>(
  harness: StoreContractHarness<Db, F>,
  register: ReturnType<typeof caseRegistry<StoreCase>>,
): StoreContext<Db, F> {
  let fixture: StoreFixture<Db, F>;
  let store: MigrationStore<Db, F>;
  beforeEach(async () => {
    fixture = await harness.open();
    store = fixture.store;
  });
  afterEach(async () => {
    await fixture.close();
  });

  const effects = () => sortedEffects(fixture.effects);
  const build = (spec: MigrationSpec) => buildContractMigration(harness.migration, spec);
  return {
    capabilities: harness.capabilities,
    test: (title, run, options) => register(title, (control) => run({ fixture, store }, control), options),
    ok: (id) => build({ name: id, transactional: true, fails: false }),
    failing: (id) => build({ name: id, transactional: true, fails: true }),
    outside: (id, fails = false) => build({ name: id, transactional: false, fails }),
    effects,
    snapshot: async () => ({
      head: await store.readHead(),
      applied: await store.readApplied(),
      effects: await effects(),
    }),
    applyOnHead: async (m) => {
      const head = await readPreparedHead(store);
      const next = await store.apply(m, { expectedHead: head });
      expect(next).toEqual({ count: head.count + 1, digest: nextDigest(head.digest, m.name, m.checksum) });
      return next;
    },
  };
}

/** Prepares the store, then reads its head. */
export async function preparedHead<Db, F>(store: MigrationStore<Db, F>): Promise<StoreHead> {
  await store.prepare();
  return readPreparedHead(store);
}

export async function readPreparedHead<Db, F>(store: MigrationStore<Db, F>): Promise<StoreHead> {
  const head = await store.readHead();
  if (head === null) throw new Error('readHead() is null after prepare()');
  return head;
}
