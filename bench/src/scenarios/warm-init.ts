import { sql } from 'kysely';
import { migMigrator, migService } from '../compose.js';
import { countedPool } from '../db.js';
import { formatDuration, formatRatio } from '../format.js';
import { interleave, timeEach, timeOnce } from '../measure.js';
import { ratio, type Summary } from '../stats.js';
import type { ScenarioResult } from '../types.js';
import type { BenchContext } from './context.js';

/**
 * Scenario 8: the first `ensureInitialized()` of a new service whose `connect` returns an already
 * connected Kysely, on the up-to-date database (100 migrations): what a warm serverless container pays
 * when it builds a service per invocation, or what any service pays after its pool is up. Each call gets a
 * new service and a new status cache (so the status is read from the database); the migrator is either
 * shared, with its migrations already loaded, or new, reading the migrations folder.
 */
export async function warmInit(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, callsPerRound } = ctx.settings.warmInit;
  const { url } = ctx.ready.database;
  const { dir } = ctx.ready.folder;
  const conn = countedPool(url, 4);
  try {
    await conn.warm(2);
    const shared = migMigrator(conn.db, dir, { url });
    await shared.local();
    /** Builds a new service outside the clock, then times its first ensureInitialized(). */
    const firstCalls = (migrator: () => ReturnType<typeof migMigrator>) => async () => {
      const times: number[] = [];
      for (let i = 0; i < callsPerRound; i++) {
        const service = migService(conn.db, { migrator, connect: async (db) => db, disconnect: false });
        times.push(await timeOnce(() => service.ensureInitialized()));
        if (service.state().migrations !== 'up-to-date') {
          throw new Error('the service did not find the database up to date');
        }
      }
      return times;
    };
    const counter = () => conn.counter.count;
    const rows = await interleave(
      [
        {
          label: 'mig: new service, first ensureInitialized() (migrations loaded)',
          tool: 'mig',
          statements: counter,
          round: firstCalls(() => shared),
        },
        {
          label: 'mig: new service + migrator, first ensureInitialized() (reads the folder)',
          tool: 'mig',
          statements: counter,
          round: firstCalls(() => migMigrator(conn.db, dir, { url })),
        },
        {
          label: 'SELECT 1 (pg pool.query)',
          tool: 'baseline',
          statements: counter,
          round: () => timeEach(callsPerRound, () => conn.pool.query('select 1')),
        },
        {
          label: 'SELECT 1 (through Kysely)',
          tool: 'baseline',
          statements: counter,
          round: () => timeEach(callsPerRound, () => sql`select 1`.execute(conn.db)),
        },
      ],
      { rounds, warmup: 3 },
    );
    const [loaded, reading, select1] = rows.map((r) => r.summary) as [Summary, Summary, Summary];
    const r = ratio(loaded, select1);
    return {
      id: '8',
      title: 'Service initialization on a warm connection',
      unit: 'time of the first ensureInitialized() of a new service',
      rows,
      comparisons: [
        { label: 'new service (migrations loaded) / SELECT 1', ratio: r },
        { label: 'new service + migrator (reads folder) / SELECT 1', ratio: ratio(reading, select1) },
      ],
      targets: [
        {
          target: 'first ensureInitialized() on a warm connection within 1.5x of one SELECT 1 round trip',
          met: r <= 1.5,
          detail: `${formatDuration(loaded.median)} vs ${formatDuration(select1.median)} (${formatRatio(r)}); reading the folder too: ${formatDuration(reading.median)}`,
          why: "a new service's first call sends the head-row read of scenario 3 (one statement, where SELECT 1 reads nothing) and builds the service's state and status cache entry around it; scenario 3 measures that statement alone, bare, against SELECT 1",
        },
      ],
      notes: [
        `${rounds} rounds of ${callsPerRound} calls per variant, alternating, after 3 warm-up rounds; ${(await shared.local()).length} migrations in the folder.`,
      ],
      elapsedMs: performance.now() - started,
    };
  } finally {
    await conn.close();
  }
}
