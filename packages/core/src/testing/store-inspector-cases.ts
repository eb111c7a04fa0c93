import { expect } from 'vitest';
import { preparedHead, type StoreContext } from './store-context.js';

// The inspector's cases: what it says of a database, and that saying it writes nothing. A store without an
// inspector (it is optional) is reported as skipping them.

const NO_INSPECTOR = 'the store has no inspector (store.inspector is optional)';

/** Previews that write nothing, no leftovers where nothing ran, no other tool's history where none is. */
export function inspectorCases<Db, F>(context: StoreContext<Db, F>): void {
  const { capabilities, test, ok, failing, effects, snapshot, applyOnHead } = context;
  test("inspector.preview returns SQL (or undefined) and writes nothing, not even the store's tables", async ({
    store,
  }, { skip }) => {
    expect(
      store.inspector !== undefined || !capabilities.previewsSql,
      'the harness says this store previews SQL: it needs an inspector',
    ).toBe(true);
    const inspector = store.inspector ?? skip(NO_INSPECTOR);
    const first = ok('c001_first');
    const second = ok('c002_second');
    // On an empty database: not even the store's tables appear.
    for (const direction of ['up', 'down'] as const) {
      expectPreview(await inspector.preview(first, direction), capabilities.previewsSql, `preview(${direction})`);
    }
    expectPreview(await inspector.preview(failing('c003_broken'), 'up'), false, 'preview of a failing migration');
    expect(await store.readHead()).toBeNull();
    expect(await store.readApplied()).toEqual([]);
    expect(await effects()).toEqual([]);

    // With a history: neither the records, the head nor the database change.
    await store.prepare();
    await applyOnHead(first);
    const before = await snapshot();
    expectPreview(await inspector.preview(second, 'up'), capabilities.previewsSql, 'preview(up)');
    expectPreview(await inspector.preview(first, 'down'), capabilities.previewsSql, 'preview(down)');
    expect(await snapshot()).toEqual(before);
  });

  test('inspector.foreignHistories is empty on a database no other tool has migrated', async ({ store }, { skip }) => {
    const inspector = store.inspector ?? skip(NO_INSPECTOR);
    expect(await inspector.foreignHistories()).toEqual([]);
    await preparedHead(store);
    expect(await inspector.foreignHistories()).toEqual([]);
  });

  test('inspector.leftovers: nothing is left behind by migrations that never ran', async ({ store }, { skip }) => {
    const inspector = store.inspector ?? skip(NO_INSPECTOR);
    expect(await inspector.leftovers([ok('c141_never_ran'), ok('c142_never_ran')])).toEqual([]);
    await preparedHead(store);
    expect(await inspector.leftovers([ok('c143_never_ran')])).toEqual([]);
  });
}

function expectPreview(preview: readonly string[] | undefined, required: boolean, what: string): void {
  if (preview === undefined) {
    expect(required, `${what} returned undefined, but the harness says this store previews SQL`).toBe(false);
    return;
  }
  expect(Array.isArray(preview), `${what} returns an array of statements or undefined`).toBe(true);
  for (const statement of preview) expect(typeof statement, `${what}: each statement is a string`).toBe('string');
  if (required) expect(preview.length, `${what} names at least one statement`).toBeGreaterThan(0);
}
