import { createStatusCache } from '@mig/cache';
import { createMigrator, DEFAULT_STATUS_TTL_MS, type MigrationStatus } from '@mig/core';
import { statusCacheKey } from '@mig/core/adapter';
import { createFolderSource, createKyselyStore, describeConnection } from '@mig/kysely-adapter';
import { countedPool } from '../db.js';
import { formatDuration } from '../format.js';
import { interleave, sink, yieldToLoop } from '../measure.js';
import type { Summary } from '../stats.js';
import type { ScenarioResult } from '../types.js';
import type { BenchContext } from './context.js';

/**
 * Scenario 2: a status-cache lookup on a fresh entry. The entry is a real status (read once from the
 * up-to-date database) under the key a service would use. `peek` is synchronous and timed in batches; `get`
 * is awaited call by call, so its figure includes one `await`, shown by the baseline row.
 */
export async function statusCache(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, peekCalls, getCalls } = ctx.settings.cache;
  const { url } = ctx.ready.database;
  const conn = countedPool(url, 2);
  let status: MigrationStatus;
  let key: string;
  try {
    const migrator = createMigrator({
      source: createFolderSource(ctx.ready.folder.dir),
      store: createKyselyStore({ db: conn.db, target: describeConnection(url) }),
    });
    status = await migrator.status();
    key = await statusCacheKey(migrator);
  } finally {
    await conn.close();
  }
  const cache = createStatusCache<MigrationStatus>({ ttlMs: DEFAULT_STATUS_TTL_MS });
  cache.set(key, status);
  let loads = 0;
  const load = async () => {
    loads++;
    return status;
  };
  const resolved = async () => status;

  const rows = await interleave(
    [
      {
        label: 'cache.peek(key), fresh entry',
        tool: 'mig',
        callsPerSample: peekCalls,
        async round() {
          let last: MigrationStatus | undefined;
          const t = performance.now();
          for (let i = 0; i < peekCalls; i++) last = cache.peek(key);
          const elapsed = performance.now() - t;
          if (last !== status) throw new Error('peek missed a fresh entry');
          sink.value = last;
          await yieldToLoop();
          return [elapsed / peekCalls];
        },
      },
      {
        label: 'await cache.get(key, load), fresh entry',
        tool: 'mig',
        callsPerSample: getCalls,
        async round() {
          let last: unknown;
          const t = performance.now();
          for (let i = 0; i < getCalls; i++) last = await cache.get(key, load);
          const elapsed = performance.now() - t;
          sink.value = last;
          return [elapsed / getCalls];
        },
      },
      {
        label: 'baseline: await an async function returning a value',
        tool: 'baseline',
        callsPerSample: getCalls,
        async round() {
          let last: unknown;
          const t = performance.now();
          for (let i = 0; i < getCalls; i++) last = await resolved();
          const elapsed = performance.now() - t;
          sink.value = last;
          return [elapsed / getCalls];
        },
      },
    ],
    { rounds, warmup: 3 },
  );
  const [peek, get] = rows.map((r) => r.summary) as [Summary, Summary];
  const stats = cache.stats();
  return {
    id: '2',
    title: 'Cached status check per call',
    unit: 'time per call (batches)',
    rows,
    comparisons: [],
    targets: [
      { target: 'cache.peek(key) < 1 µs', met: peek.median < 0.001, detail: `median ${formatDuration(peek.median)}` },
      {
        target: 'await cache.get(key, load) < 1 µs',
        met: get.median < 0.001,
        detail: `median ${formatDuration(get.median)}`,
      },
    ],
    notes: [
      `${rounds} rounds of ${peekCalls.toLocaleString('en')} peeks and ${getCalls.toLocaleString('en')} awaited gets, after 3 warm-up rounds. No I/O: the loader ran ${loads} times; cache hits ${stats.hits.toLocaleString('en')}, misses ${stats.misses}.`,
    ],
    elapsedMs: performance.now() - started,
  };
}
