import type { LockStrategy, Migrator } from '@mig/core';
import { DEFAULT_TABLE } from '@mig/core/adapter';
import { openDatabase } from '@mig/kysely-adapter';
import type { Kysely, Migrator as KyselyMigrator } from 'kysely';
import { type Child, childScript, releaseRace, startChild } from '../children.js';
import { kyselyMigrateToLatest, kyselyMigrator, migMigrator, migUp } from '../compose.js';
import { APPLY_COUNT } from '../config.js';
import {
  BENCH_ENGINES,
  type BenchEngine,
  countRecords,
  createEngineDatabase,
  describeCounts,
  ENGINE_LABELS,
  type EngineDatabase,
  engineVersion,
  kyselyOwn,
  recordedOnce,
} from '../engine-db.js';
import { formatDuration, formatRatio } from '../format.js';
import { interleave, timeEach, timeOnce } from '../measure.js';
import { type MigrationFolder, seedKysely, writeMigrationFolder } from '../migrations.js';
import { ratio, type Summary, summarize } from '../stats.js';
import type { Comparison, Row, ScenarioResult, TargetCheck, Tool } from '../types.js';
import type { BenchContext } from './context.js';
import { raceNote } from './race-notes.js';
import type { RaceRun, Ready } from './race-result.js';

/** mig's lock on each engine: GET_LOCK on MariaDB; on SQLite the lease row is the only lock there is. */
const MIG_STRATEGY: Record<BenchEngine, LockStrategy> = { mariadb: 'advisory', sqlite: 'lease' };

/** What each part of the scenario adds to the result. */
interface Part {
  readonly rows: Row[];
  readonly comparisons: Comparison[];
  readonly targets: TargetCheck[];
  readonly notes: string[];
}

const CHECK_LABELS = {
  mig: 'mig status()',
  migUp: 'mig up(), nothing to do',
  kyselyList: 'Kysely getMigrations()',
  kysely: 'Kysely migrateToLatest(), up to date',
} as const;

/**
 * Scenario 11: mig on MariaDB and SQLite beside Kysely's Migrator on the same database: the no-op check on
 * an up-to-date database, a full apply to an empty one, and processes racing on an empty one. mig opens its
 * Kysely instance with `openDatabase(url)`; Kysely's Migrator runs on Kysely's own MysqlDialect and
 * SqliteDialect. Both read the same generated `.js` migrations, written to run on any engine.
 */
export async function enginesScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const folder = await writeMigrationFolder(APPLY_COUNT, 'portable');
  const parts: Part[] = [];
  try {
    for (const engine of BENCH_ENGINES) {
      ctx.log(`  ${ENGINE_LABELS[engine]}`);
      parts.push(await noopCheck(ctx, engine, folder));
      parts.push(await fullApply(ctx, engine, folder));
      parts.push(await raceOn(ctx, engine, folder));
    }
  } finally {
    await folder.dispose();
  }
  const { checkRounds, callsPerRound, applyRounds, applyWarmup, raceSizes, raceRounds } = ctx.settings.engines;
  return {
    id: '11',
    title: `MariaDB and SQLite: no-op check, full apply and race, ${APPLY_COUNT} migrations, beside Kysely's Migrator`,
    unit: 'time per check, per full apply, and from the start line until every process is done',
    rows: parts.flatMap((p) => p.rows),
    comparisons: parts.flatMap((p) => p.comparisons),
    targets: parts.flatMap((p) => p.targets),
    notes: [
      `The same ${APPLY_COUNT} generated .js migrations for both tools on both engines: each creates a table with an integer primary key and writes an explicit row to an audit table (no serial or identity columns). mig opens its Kysely instance with openDatabase(url) and uses its advisory lock, which is GET_LOCK on MariaDB and the lease row on SQLite; Kysely's Migrator runs on Kysely's own MysqlDialect (mysql2 pool) and SqliteDialect (better-sqlite3 with its defaults). On SQLite, mig's dialect switches the file to write-ahead logging and sets a 5 s busy timeout; Kysely's keeps SQLite's rollback journal, so part of the difference in the SQLite full apply is the journal mode each tool's setup chooses. Kysely's Migrator takes no lock on SQLite, so racing processes can apply the same migration.`,
      `No-op check: ${checkRounds} rounds of ${callsPerRound} calls per variant, alternating, after 2 warm-up rounds, on one database per engine where mig applied the migrations and Kysely's records were seeded (its first migrateToLatest() ran nothing). Full apply: ${applyRounds} run(s) per tool after ${applyWarmup} warm-up run(s), each on a new database (MariaDB) or a new file (SQLite), with one connection already open. Race: ${raceRounds} round(s) of each tool alone and at ${raceSizes.join(' and ')} processes, each run on a new database or file, released by one start line; the processes' statements are not counted on these engines.`,
      ...parts.flatMap((p) => p.notes),
    ],
    elapsedMs: performance.now() - started,
  };
}

/** Both tools on one database where all migrations are applied, and the server's version. */
interface CheckSetup {
  readonly database: EngineDatabase;
  readonly migDb: Kysely<any>;
  readonly kyselyDb: Kysely<any>;
  readonly migrator: Migrator<unknown>;
  readonly kysely: KyselyMigrator;
  readonly version: string;
}

/** Creates the database, applies the migrations with mig, seeds Kysely's records, and checks both agree. */
async function prepareCheck(engine: BenchEngine, folder: MigrationFolder): Promise<CheckSetup> {
  const database = await createEngineDatabase(engine, 'engine_check');
  const { db: migDb } = await openDatabase<any>(database.url, { maxConnections: 2 });
  const kyselyDb = await kyselyOwn(database.url);
  const migrator = migMigrator(migDb, folder.dir, { url: database.url, strategy: MIG_STRATEGY[engine] });
  const kysely = kyselyMigrator(kyselyDb, folder.dir);
  const setup = { database, migDb, kyselyDb, migrator, kysely, version: '' };
  try {
    const applied = await migUp(migrator);
    if (applied !== APPLY_COUNT) throw new Error(`mig applied ${applied} of ${APPLY_COUNT} migrations`);
    await seedKysely(kyselyDb, folder);
    const status = await migrator.status();
    if (status.state !== 'up-to-date' || status.appliedCount !== APPLY_COUNT) {
      throw new Error(`mig sees ${status.state} (${status.appliedCount} applied), not ${APPLY_COUNT} up to date`);
    }
    const ran = await kyselyMigrateToLatest(kysely);
    if (ran !== 0) throw new Error(`Kysely ran ${ran} migration(s) on a database that should be up to date`);
    return { ...setup, version: await engineVersion(engine, kyselyDb) };
  } catch (error) {
    await closeCheck(setup);
    throw error;
  }
}

async function closeCheck(setup: Omit<CheckSetup, 'version'>): Promise<void> {
  await setup.migDb.destroy().catch(() => {});
  await setup.kyselyDb.destroy().catch(() => {});
  await setup.database.drop();
}

/** The no-op check: mig's status() and no-op up() against Kysely's getMigrations() and no-op migrateToLatest(). */
async function noopCheck(ctx: BenchContext, engine: BenchEngine, folder: MigrationFolder): Promise<Part> {
  const { checkRounds, callsPerRound } = ctx.settings.engines;
  const setup = await prepareCheck(engine, folder);
  try {
    const group = `${ENGINE_LABELS[engine]}: no-op check, ${APPLY_COUNT} applied`;
    const variant = (label: string, tool: Tool, call: () => Promise<unknown>) => ({
      group,
      label,
      tool,
      round: () => timeEach(callsPerRound, call),
    });
    const rows = await interleave(
      [
        variant(CHECK_LABELS.mig, 'mig', () => setup.migrator.status()),
        variant(CHECK_LABELS.migUp, 'mig', () => migUp(setup.migrator)),
        variant(CHECK_LABELS.kyselyList, 'kysely', () => setup.kysely.getMigrations()),
        variant(CHECK_LABELS.kysely, 'kysely', () => kyselyMigrateToLatest(setup.kysely)),
      ],
      { rounds: checkRounds, warmup: 2 },
    );
    const of = (label: string) => (rows.find((r) => r.label === label) as Row).summary;
    const pairs = [
      { mig: CHECK_LABELS.mig, kysely: CHECK_LABELS.kyselyList },
      { mig: CHECK_LABELS.migUp, kysely: CHECK_LABELS.kysely },
    ];
    ctx.log(`  ${group}: mig status() ${formatDuration(of(CHECK_LABELS.mig).median)}`);
    return {
      rows,
      comparisons: pairs.map((p) => ({
        group,
        label: `${p.kysely} / ${p.mig}`,
        ratio: ratio(of(p.kysely), of(p.mig)),
      })),
      targets: pairs.map((p) =>
        atMost(`${ENGINE_LABELS[engine]}: ${p.mig} at most ${p.kysely}`, of(p.mig), of(p.kysely)),
      ),
      notes: [`${ENGINE_LABELS[engine]} here is ${setup.version}.`],
    };
  } finally {
    await closeCheck(setup);
  }
}

/** A timing target: mig's median at most Kysely's, with the ratio (and why, when it is missed). */
function atMost(target: string, mig: Summary, kysely: Summary, per = 1, why?: string): TargetCheck {
  const r = ratio(mig, kysely);
  return {
    target,
    met: r <= 1,
    why,
    detail: `mig ${formatDuration(mig.median / per)} vs Kysely ${formatDuration(kysely.median / per)} (${formatRatio(r)}${r > 1 ? `, ${Math.round((r - 1) * 100)} % over` : ''})`,
  };
}

type ApplyTool = 'mig' | 'kysely';

/** One full apply to a new database: timed from the call to its end, then its records counted. */
async function applyOnce(engine: BenchEngine, tool: ApplyTool, folder: MigrationFolder) {
  const database = await createEngineDatabase(engine, `engine_apply_${tool}`);
  const db =
    tool === 'mig' ? (await openDatabase<any>(database.url, { maxConnections: 2 })).db : await kyselyOwn(database.url);
  try {
    await db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
    let applied = 0;
    const ms = await timeOnce(async () => {
      applied =
        tool === 'mig'
          ? await migUp(migMigrator(db, folder.dir, { url: database.url, strategy: MIG_STRATEGY[engine] }))
          : await kyselyMigrateToLatest(kyselyMigrator(db, folder.dir));
    });
    if (applied !== APPLY_COUNT) throw new Error(`${tool} applied ${applied} of ${APPLY_COUNT} migrations`);
    return { ms, counts: await countRecords(db, tool === 'mig' ? DEFAULT_TABLE : 'kysely_migration') };
  } finally {
    await db.destroy().catch(() => {});
    await database.drop();
  }
}

/** The full apply: mig's up() against Kysely's migrateToLatest(), each run on an empty database. */
async function fullApply(ctx: BenchContext, engine: BenchEngine, folder: MigrationFolder): Promise<Part> {
  const { applyRounds, applyWarmup } = ctx.settings.engines;
  const name = ENGINE_LABELS[engine];
  const group = `${name}: full apply of ${APPLY_COUNT}`;
  const checks: Record<ApplyTool, { ok: boolean; detail: string }[]> = { mig: [], kysely: [] };
  const variant = (tool: ApplyTool, label: string) => ({
    group,
    label,
    tool,
    round: async () => {
      const { ms, counts } = await applyOnce(engine, tool, folder);
      checks[tool].push({ ok: recordedOnce(counts, APPLY_COUNT), detail: describeCounts(counts) });
      return [ms];
    },
  });
  const rows = await interleave(
    [
      variant('mig', `mig migrator.up(): ${APPLY_COUNT} .js migrations`),
      variant('kysely', `Kysely migrateToLatest(): ${APPLY_COUNT} .js migrations`),
    ],
    { rounds: applyRounds, warmup: applyWarmup },
  );
  const [mig, kysely] = rows.map((r) => r.summary) as [Summary, Summary];
  ctx.log(`  ${group}: mig ${formatDuration(mig.median)}, Kysely ${formatDuration(kysely.median)}`);
  const badMig = checks.mig.find((c) => !c.ok);
  const badKysely = checks.kysely.find((c) => !c.ok);
  return {
    rows,
    comparisons: [{ group, label: 'mig / Kysely', ratio: ratio(mig, kysely) }],
    targets: [
      atMost(
        `${name}: full apply, time per migration at most Kysely's`,
        mig,
        kysely,
        APPLY_COUNT,
        engine === 'mariadb'
          ? `MySQL commits DDL by itself, so a code migration's record cannot share its transaction: mig locks and checks the head and sets a savepoint, runs the migration, learns from the savepoint whether its DDL committed the transaction, then writes the record in a transaction of its own with the head and the lock checked again; Kysely sends the migration and an insert of its record (${formatDuration((mig.median - kysely.median) / APPLY_COUNT)} more per migration here)`
          : undefined,
      ),
      {
        target: `${name}: full apply, each migration recorded once and run once`,
        kind: 'correctness',
        met: checks.mig.length > 0 && badMig === undefined,
        detail: `${(badMig ?? checks.mig[checks.mig.length - 1])?.detail ?? 'no run'}, in ${checks.mig.length} run(s) counted`,
      },
    ],
    notes: [
      `${name}, full apply: mig ${formatDuration(mig.median / APPLY_COUNT)} and Kysely ${formatDuration(kysely.median / APPLY_COUNT)} per migration (median run over ${APPLY_COUNT}); Kysely's Migrator ${badKysely ? `was not exactly once: ${badKysely.detail}` : 'recorded and ran each migration once in every run'}.`,
    ],
  };
}

type EngineTool = 'mig' | 'kysely';

/** K processes on one new database or file, released at once; what each did, and whether it was exactly once. */
async function raceOnce(
  engine: BenchEngine,
  tool: EngineTool,
  processes: number,
  folder: MigrationFolder,
): Promise<RaceRun> {
  const database = await createEngineDatabase(engine, `engine_race_${tool}`);
  const children: Child[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      const args = ['--url', database.url, '--dir', folder.dir, '--tool', tool, '--strategy', MIG_STRATEGY[engine]];
      children.push(startChild(childScript('race-engine'), [...args, '--name', `bench-${engine}-${tool}-${i}`]));
    }
    const { goAt, wallMs, spawnToReadyMs, instances } = await releaseRace<Ready>(children);
    return {
      goAt,
      wallMs,
      spawnToReadyMs,
      instances,
      exactlyOnce: await raceCheck(database, tool, instances),
    };
  } finally {
    for (const c of children) c.process.kill('SIGKILL');
    await database.drop();
  }
}

/** Each migration recorded once and run once, applied by exactly one process, and no process failed. */
async function raceCheck(database: EngineDatabase, tool: EngineTool, instances: readonly Ready[]) {
  const db = await kyselyOwn(database.url, 1);
  try {
    const counts = await countRecords(db, tool === 'mig' ? DEFAULT_TABLE : 'kysely_migration');
    const appliedHere = instances.flatMap((i) => i.appliedHere);
    const appliers = instances.filter((i) => i.appliedHere.length > 0).length;
    const failures = instances.filter((i) => i.migrations !== 'applied' && i.migrations !== 'up-to-date');
    const ok =
      recordedOnce(counts, APPLY_COUNT) &&
      appliedHere.length === APPLY_COUNT &&
      new Set(appliedHere).size === APPLY_COUNT &&
      failures.length === 0;
    const failed =
      failures.length > 0
        ? `; ${failures.length} process(es) failed: ${failures[0]?.error ?? failures[0]?.migrations}`
        : '';
    return {
      ok,
      detail: `${describeCounts(counts)}, ${appliedHere.length} applications reported by ${appliers} process(es)${failed}`,
    };
  } finally {
    await db.destroy();
  }
}

type Runs = Map<string, RaceRun[]>;
const key = (tool: EngineTool, processes: number) => `${tool}:${processes}`;

/** Every tool alone and at every size, the tools taking turns and the sizes alternating direction. */
async function runRaces(ctx: BenchContext, engine: BenchEngine, folder: MigrationFolder): Promise<Runs> {
  const { raceSizes, raceRounds } = ctx.settings.engines;
  const runs: Runs = new Map();
  for (let r = 0; r < raceRounds; r++) {
    const tools: EngineTool[] = r % 2 === 0 ? ['mig', 'kysely'] : ['kysely', 'mig'];
    for (const tool of tools) {
      for (const n of r % 2 === 0 ? [1, ...raceSizes] : [...raceSizes].reverse().concat(1)) {
        const run = await raceOnce(engine, tool, n, folder);
        runs.set(key(tool, n), [...(runs.get(key(tool, n)) ?? []), run]);
        ctx.log(
          `  ${ENGINE_LABELS[engine]}, ${raceToolName(engine, tool)}, ${n} process(es): ${formatDuration(run.wallMs)} start → all done; ${run.exactlyOnce.ok ? 'exactly once' : `NOT exactly once: ${run.exactlyOnce.detail}`}`,
        );
      }
    }
  }
  return runs;
}

function raceToolName(engine: BenchEngine, tool: EngineTool): string {
  return tool === 'kysely' ? "Kysely's Migrator" : `mig, ${MIG_STRATEGY[engine]} lock`;
}

/** The race: wall time from the start line, K processes against one, mig against Kysely's Migrator. */
async function raceOn(ctx: BenchContext, engine: BenchEngine, folder: MigrationFolder): Promise<Part> {
  const { raceSizes } = ctx.settings.engines;
  const runs = await runRaces(ctx, engine, folder);
  const name = ENGINE_LABELS[engine];
  const of = (tool: EngineTool, n: number) => runs.get(key(tool, n)) ?? [];
  const wall = (tool: EngineTool, n: number) => summarize(of(tool, n).map((r) => r.wallMs));
  const tools: EngineTool[] = ['mig', 'kysely'];
  const rows = tools.flatMap((tool) => {
    const group = `${name}: ${raceToolName(engine, tool)}`;
    const row = (label: string, list: RaceRun[], value: (r: RaceRun) => number): Row => ({
      group,
      label,
      tool,
      summary: summarize(list.map(value)),
      statements: null,
    });
    return [
      row('1 process: start → done', of(tool, 1), (r) => r.wallMs),
      ...raceSizes.flatMap((n) => [
        row(`${n} processes: start → all done`, of(tool, n), (r) => r.wallMs),
        row(`${n} processes: first spawn() → all done`, of(tool, n), (r) => r.spawnToReadyMs),
      ]),
    ];
  });
  const comparisons = tools.flatMap((tool) =>
    raceSizes.map((n) => ({
      group: `${name}: ${raceToolName(engine, tool)}`,
      label: `${n} processes / 1 process`,
      ratio: ratio(wall(tool, n), wall(tool, 1)),
    })),
  );
  const largest = raceSizes[raceSizes.length - 1] as number;
  const strategy = MIG_STRATEGY[engine];
  return {
    rows,
    comparisons,
    targets: [
      ...raceSizes.map((n) => raceTiming(name, n, wall, engine)),
      raceOnceTarget(
        name,
        strategy,
        [1, ...raceSizes].flatMap((n) => of('mig', n)),
      ),
    ],
    notes: [
      `${name}: ${raceNote(strategy, of('mig', largest), of('mig', 1))}`,
      `${name}: ${raceNote('kysely', of('kysely', largest), of('kysely', 1))}`,
      kyselyRaceNote(
        name,
        [1, ...raceSizes].flatMap((n) => of('kysely', n)),
      ),
    ],
  };
}

function raceTiming(
  name: string,
  n: number,
  wall: (tool: EngineTool, n: number) => Summary,
  engine: BenchEngine,
): TargetCheck {
  const r = ratio(wall('mig', n), wall('mig', 1));
  const k = ratio(wall('kysely', n), wall('kysely', 1));
  const alone = wall('mig', 1).median;
  return {
    why:
      engine === 'sqlite'
        ? `one process alone applies the ${APPLY_COUNT} migrations in ${formatDuration(alone)}, so each of the ${n - 1} others' own start on the file (its connection, the lease row read, the status) weighs against that; a SQLite waiter learns of the release by reading the lease row, 10 to 50 ms apart, since nothing can tell it`
        : `one process alone takes ${formatDuration(alone)}; the ${n - 1} others' starts, their wait for the lock and their status reads share the two cores with it`,
    target: `${name}: ${n} processes racing (${APPLY_COUNT} migrations) all done within 1.5x of one process`,
    met: r <= 1.5,
    detail: `${formatDuration(wall('mig', n).median)} vs ${formatDuration(wall('mig', 1).median)} (${formatRatio(r)}${r > 1.5 ? `, ${formatRatio(r / 1.5)} over the goal` : ''}); Kysely's Migrator in the same run: ${formatDuration(wall('kysely', n).median)} vs ${formatDuration(wall('kysely', 1).median)} (${formatRatio(k)})`,
  };
}

function raceOnceTarget(name: string, strategy: LockStrategy, runs: readonly RaceRun[]): TargetCheck {
  const bad = runs.find((run) => !run.exactlyOnce.ok);
  return {
    target: `${name}: mig (${strategy} lock) exactly once in every race (each migration recorded once and run once)`,
    kind: 'correctness',
    met: runs.length > 0 && bad === undefined,
    detail: (bad ?? runs[runs.length - 1])?.exactlyOnce.detail ?? 'no run',
  };
}

/** Kysely's exactly-once result is the peer's business: reported, never a reason to fail mig's run. */
function kyselyRaceNote(name: string, runs: readonly RaceRun[]): string {
  const bad = runs.filter((run) => !run.exactlyOnce.ok);
  return bad.length === 0
    ? `${name}: Kysely's Migrator applied each migration exactly once in all ${runs.length} of its runs.`
    : `${name}: Kysely's Migrator was not exactly once in ${bad.length} of ${runs.length} runs: ${bad[0]?.exactlyOnce.detail}.`;
}
