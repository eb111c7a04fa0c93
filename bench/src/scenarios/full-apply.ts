import { kyselyMigrateToLatest, kyselyMigrator, migMigrator, migUp } from '../compose.js';
import { APPLY_COUNT } from '../config.js';
import { countedPool, createDatabase } from '../db.js';
import { formatDuration, formatRatio } from '../format.js';
import { interleave, timeOnce } from '../measure.js';
import { ratio, type Summary } from '../stats.js';
import type { ScenarioResult } from '../types.js';
import type { BenchContext } from './context.js';

/**
 * Scenario 5: applying the 100 migrations (each creates a table and writes an audit row) to an empty
 * database, each run on a database of its own. Creating and dropping the database is outside the timing;
 * the pool has one connection open before the clock starts, so neither tool pays for the first connect.
 */
export async function fullApply(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, warmup } = ctx.settings.fullApply;
  const { dir } = ctx.ready.folder;
  const statements = { mig: 0, kysely: 0 };
  const run = async (tool: 'mig' | 'kysely'): Promise<number[]> => {
    const database = await createDatabase(`apply_${tool}`);
    const conn = countedPool(database.url, 4);
    try {
      await conn.warm(1);
      const before = conn.counter.count;
      let applied = 0;
      const ms = await timeOnce(async () => {
        applied =
          tool === 'mig'
            ? await migUp(migMigrator(conn.db, dir, { url: database.url }))
            : await kyselyMigrateToLatest(kyselyMigrator(conn.db, dir));
      });
      statements[tool] += conn.counter.count - before;
      if (applied !== APPLY_COUNT) throw new Error(`${tool} applied ${applied} of ${APPLY_COUNT} migrations`);
      return [ms];
    } finally {
      await conn.close();
      await database.drop();
    }
  };
  const rows = await interleave(
    [
      {
        label: `mig migrator.up(): ${APPLY_COUNT} migrations, empty database`,
        tool: 'mig',
        round: () => run('mig'),
        statements: () => statements.mig,
      },
      {
        label: `Kysely migrateToLatest(): ${APPLY_COUNT} migrations, empty database`,
        tool: 'kysely',
        round: () => run('kysely'),
        statements: () => statements.kysely,
      },
    ],
    { rounds, warmup, onRound: (r) => ctx.log(`  round ${r + 1}/${rounds}`) },
  );
  const [mig, kysely] = rows.map((r) => r.summary) as [Summary, Summary];
  return {
    id: '5',
    title: `Full apply of ${APPLY_COUNT} migrations to an empty database`,
    unit: 'time per full run',
    rows,
    comparisons: [{ label: 'mig / Kysely', ratio: ratio(mig, kysely) }],
    targets: [],
    notes: [
      `${rounds} runs of each on fresh databases, alternating, after ${warmup} warm-up run(s) of each (which also load the migration modules once).`,
      `mig applies each migration in its own transaction (head row locked and checked, record and head written) under the advisory lock, so a failure keeps every earlier migration; Kysely runs the whole batch in one transaction. Per migration: mig ${formatDuration(mig.median / APPLY_COUNT)}, Kysely ${formatDuration(kysely.median / APPLY_COUNT)} (mig/Kysely ${formatRatio(ratio(mig, kysely))}).`,
    ],
    elapsedMs: performance.now() - started,
  };
}
