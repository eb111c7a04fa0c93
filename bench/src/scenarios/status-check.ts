import type { Migrator } from '@mig/core';
import { type Migrator as KyselyMigrator, sql } from 'kysely';
import { kyselyMigrateToLatest, kyselyMigrator, migMigrator, migUp } from '../compose.js';
import { type BenchDatabase, type CountedPool, countedPool, createDatabase } from '../db.js';
import { formatDuration, formatRatio, formatStatements } from '../format.js';
import { interleave, timeEach, type Variant } from '../measure.js';
import { type MigrationFolder, seedKysely, seedMig, writeMigrationFolder } from '../migrations.js';
import { ratio } from '../stats.js';
import type { Comparison, Row, ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';

export const STATUS_LABELS = {
  mig: 'mig status()',
  migUp: 'mig up(), nothing to do',
  migFresh: 'mig fresh migrator: read folder + status()',
  kysely: 'Kysely migrateToLatest(), up to date',
  select1: 'SELECT 1 (pg pool.query)',
  select1Kysely: 'SELECT 1 (through Kysely)',
  headQuery: 'the head-row SELECT mig sends, bare pg',
  headPrepared: 'the same SELECT as a prepared statement, bare pg',
} as const;

/** The statement `status()` sends (the store's readHead), for the baseline that isolates mig's own overhead. */
const HEAD_QUERY = 'select applied_count, digest from "public"."mig_migrations_head" where id = 1';

/** Counts at or below this are applied by running the migrations; above it, their records are seeded. */
const RUN_UP_TO = 10;

/** One applied-migration count: its folder, its database, and both tools on one counted pool. */
interface Setup {
  readonly count: number;
  readonly group: string;
  readonly folder: MigrationFolder;
  readonly database: BenchDatabase;
  readonly conn: CountedPool;
  readonly migrator: Migrator<unknown>;
  readonly kysely: KyselyMigrator;
}

/**
 * Scenario 3: the check a service makes on a cache miss, on an up-to-date database with 10, 1,000 and
 * 10,000 applied migrations. mig: `status()` on a migrator whose local migrations are loaded (what a
 * service holds), plus a fresh migrator that reads the folder first. Kysely: `migrateToLatest()` with
 * nothing to do, which is how Kysely finds out. Baseline: SELECT 1 on the same pool. Every count has its
 * own database, all open at once, and all variants of all counts run in one interleaved loop, so the
 * comparison across counts ("flat") is not at the mercy of what the shared machine did in between.
 */
export async function statusCheck(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { counts, rounds, callsPerRound } = ctx.settings.statusCheck;
  const setups: Setup[] = [];
  try {
    for (const count of counts) setups.push(await prepare(ctx, count));
    const variants: Variant[] = setups.flatMap((setup) => variantsFor(setup, callsPerRound));
    const rows = await interleave(variants, {
      rounds,
      warmup: 2,
      order: 'shuffle',
      onRound: (r) => {
        if ((r + 1) % 5 === 0) ctx.log(`  round ${r + 1}/${rounds}`);
      },
    });
    const comparisons: Comparison[] = setups.flatMap(({ group, count }) => {
      const of = (label: string) => (rows.find((r) => r.label === label && r.param === count) as Row).summary;
      return [
        {
          group,
          label: 'Kysely migrateToLatest() / mig status()',
          ratio: ratio(of(STATUS_LABELS.kysely), of(STATUS_LABELS.mig)),
        },
        { group, label: 'mig status() / SELECT 1', ratio: ratio(of(STATUS_LABELS.mig), of(STATUS_LABELS.select1)) },
        {
          group,
          label: 'mig status() / SELECT 1 through Kysely',
          ratio: ratio(of(STATUS_LABELS.mig), of(STATUS_LABELS.select1Kysely)),
        },
      ];
    });
    return {
      id: '3',
      title: 'Uncached no-op check on an up-to-date database',
      unit: 'time per check',
      rows,
      comparisons,
      targets: statusTargets(rows, counts),
      notes: [
        `Applied records: up to ${RUN_UP_TO} migrations are applied by each tool; larger counts are seeded the way each tool records them (mig: chained digests and the head row; Kysely: its two tables), then checked: mig reports up-to-date from the head, Kysely's migrateToLatest runs nothing.`,
        `${rounds} rounds after 2 warm-up rounds; in each round every variant of every count runs once, in a new (seeded) random order, so no variant always follows a slow one and collects its garbage: ${callsPerRound} timed calls for the fast variants, 1 for the slow ones (Kysely at 1,000 or more, the fresh mig migrator).`,
        "Kysely's first migrateToLatest() imports every migration file (Node caches them afterwards); it is part of the setup, not of the figures.",
      ],
      elapsedMs: performance.now() - started,
    };
  } finally {
    for (const setup of setups) {
      await setup.conn.close();
      await setup.database.drop();
      await setup.folder.dispose();
    }
  }
}

/** Creates the database for `count`, brings both tools up to date, and checks that they both agree. */
async function prepare(ctx: BenchContext, count: number): Promise<Setup> {
  const group = `${count.toLocaleString('en')} applied`;
  const folder = await writeMigrationFolder(count, 'audit');
  const database = await createDatabase(`status_${count}`);
  const conn = countedPool(database.url, 4);
  const setup: Setup = {
    count,
    group,
    folder,
    database,
    conn,
    migrator: migMigrator(conn.db, folder.dir, { url: database.url }),
    kysely: kyselyMigrator(conn.db, folder.dir),
  };
  try {
    const seeded = count > RUN_UP_TO;
    const setupStarted = performance.now();
    if (seeded) {
      await seedMig(conn.db, folder);
      await seedKysely(conn.db, folder);
    } else {
      await migUp(setup.migrator);
      await kyselyMigrateToLatest(setup.kysely);
    }
    // Both tools must see an up-to-date database, or the figures would measure something else.
    const status = await setup.migrator.status();
    if (status.state !== 'up-to-date' || status.appliedCount !== count || status.via !== 'head') {
      throw new Error(
        `mig sees ${status.state} (${status.appliedCount} applied, via ${status.via}), not ${count} up to date`,
      );
    }
    const kyselyFirst = performance.now();
    const ran = await kyselyMigrateToLatest(setup.kysely);
    if (ran !== 0) throw new Error(`Kysely ran ${ran} migration(s) on a database that should be up to date`);
    ctx.log(
      `  ${group}: ${seeded ? 'seeded' : 'applied'} in ${formatDuration(kyselyFirst - setupStarted)}; Kysely's first check (imports every file) ${formatDuration(performance.now() - kyselyFirst)}`,
    );
    await conn.warm(2);
    return setup;
  } catch (error) {
    await conn.close();
    await database.drop();
    await folder.dispose();
    throw error;
  }
}

function variantsFor(setup: Setup, callsPerRound: number): Variant[] {
  const { count, group, conn, folder, database } = setup;
  const base = {
    group,
    param: count,
    statements: () => conn.counter.count,
    roundTrips: () => conn.counter.roundTrips,
  };
  return [
    {
      ...base,
      label: STATUS_LABELS.mig,
      tool: 'mig',
      round: () => timeEach(callsPerRound, () => setup.migrator.status()),
    },
    {
      ...base,
      label: STATUS_LABELS.migUp,
      tool: 'mig',
      round: () => timeEach(callsPerRound, () => migUp(setup.migrator)),
    },
    {
      ...base,
      label: STATUS_LABELS.migFresh,
      tool: 'mig',
      round: () => timeEach(1, () => migMigrator(conn.db, folder.dir, { url: database.url }).status()),
    },
    {
      ...base,
      label: STATUS_LABELS.kysely,
      tool: 'kysely',
      round: () => timeEach(count >= 1_000 ? 1 : callsPerRound, () => kyselyMigrateToLatest(setup.kysely)),
    },
    {
      ...base,
      label: STATUS_LABELS.select1,
      tool: 'baseline',
      round: () => timeEach(callsPerRound, () => conn.pool.query('select 1')),
    },
    {
      ...base,
      label: STATUS_LABELS.select1Kysely,
      tool: 'baseline',
      round: () => timeEach(callsPerRound, () => sql`select 1`.execute(conn.db)),
    },
    {
      ...base,
      label: STATUS_LABELS.headQuery,
      tool: 'baseline',
      round: () => timeEach(callsPerRound, () => conn.pool.query(HEAD_QUERY)),
    },
    {
      // What the check would cost without parsing and planning its statement each time (see the README).
      ...base,
      label: STATUS_LABELS.headPrepared,
      tool: 'baseline',
      round: () => timeEach(callsPerRound, () => conn.pool.query({ name: 'mig_bench_head', text: HEAD_QUERY })),
    },
  ];
}

function statusTargets(rows: readonly Row[], counts: readonly number[]): TargetCheck[] {
  const find = (label: string, count: number) => rows.find((r) => r.label === label && r.param === count) as Row;
  const mig = counts.map((c) => find(STATUS_LABELS.mig, c));
  const up = counts.map((c) => find(STATUS_LABELS.migUp, c));
  const kysely = counts.map((c) => find(STATUS_LABELS.kysely, c));
  const select1 = counts.map((c) => find(STATUS_LABELS.select1Kysely, c));
  const head = counts.map((c) => find(STATUS_LABELS.headQuery, c));
  const select1Bare = counts.map((c) => find(STATUS_LABELS.select1, c));
  const vsSelect = mig.map((m, i) => ratio(m.summary, (select1[i] as Row).summary));
  const vsKysely = mig.map((m, i) => ratio((kysely[i] as Row).summary, m.summary));
  const list = (values: readonly number[], format: (v: number) => string) =>
    values.map((v, i) => `${(counts[i] as number).toLocaleString('en')}: ${format(v)}`).join(', ');
  const counted = (values: readonly (number | null | undefined)[]) => values.map((v) => v ?? Number.NaN);
  return [
    {
      target: 'one statement per mig check',
      met: mig.every((m) => m.statements === 1),
      detail: list(counted(mig.map((m) => m.statements)), formatStatements),
    },
    {
      target: 'one round trip per no-op up() on an up-to-date database',
      met: up.every((u) => u.roundTrips === 1),
      detail: `round trips ${list(counted(up.map((u) => u.roundTrips)), formatStatements)}; statements ${list(counted(up.map((u) => u.statements)), formatStatements)}; median ${list(
        up.map((u) => u.summary.median),
        formatDuration,
      )}`,
    },
    flatTarget(mig, counts),
    {
      target: 'mig status() within 1.5x of a SELECT 1 through Kysely',
      met: vsSelect.every((r) => r <= 1.5),
      detail: list(vsSelect, formatRatio),
      why: `the statement mig sends (the head row, read by its key) takes ${list(
        head.map((h, i) => ratio(h.summary, (select1Bare[i] as Row).summary)),
        formatRatio,
      )} of a SELECT 1, both sent bare through pg with no mig code around them: the server's parsing, planning and reading of a real query, not mig's own work, is most of the gap`,
    },
    {
      target: 'mig check at least 5x faster than Kysely migrateToLatest()',
      met: vsKysely.every((r) => r >= 5),
      detail: `Kysely/mig ${list(vsKysely, formatRatio)}`,
    },
  ];
}

/** "Flat": the largest median over all counts within 1.25x of the smallest, wherever each falls. */
function flatTarget(mig: readonly Row[], counts: readonly number[]): TargetCheck {
  const at = mig.map((m, i) => ({ median: m.summary.median, count: (counts[i] as number).toLocaleString('en') }));
  const sorted = [...at].sort((a, b) => a.median - b.median);
  const smallest = sorted[0] as (typeof at)[number];
  const largest = sorted[sorted.length - 1] as (typeof at)[number];
  const flat = largest.median / smallest.median;
  return {
    target: 'mig check time flat in the number of applied migrations (largest median within 1.25x of the smallest)',
    met: flat <= 1.25,
    detail: `largest ${formatDuration(largest.median)} at ${largest.count}, smallest ${formatDuration(smallest.median)} at ${smallest.count} (${formatRatio(flat)})`,
  };
}
