import { LOCK_STRATEGIES, type LockStrategy } from '@mig/core';
import { DEFAULT_BACKOFF } from '@mig/core/adapter';
import { APPLY_COUNT } from '../config.js';
import { formatDuration, formatRatio } from '../format.js';
import { writeMigrationFolder } from '../migrations.js';
import { ratio, type Summary, summarize } from '../stats.js';
import type { Comparison, Row, ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';
import { holderTimes, raceNote, waiterLatencies } from './race-notes.js';
import { RACE_TOOLS, type RaceRun, type Racer, type RaceSet, racerName, toolName } from './race-result.js';
import { type RaceFolders, type Runs, runAll, runKey } from './race-runs.js';

/** The goal: a race of N processes within this much of the floor of N (see race-runs.ts). */
const FLOOR_GOAL = 1.3;
/** The goal: every waiting process done within this many ms of the holder's release. */
const WAITER_GOAL_MS = 100;

/** Mean statements and round trips per process over `runs`. */
function perProcess(runs: readonly RaceRun[]): { statements: number; roundTrips: number | null } {
  const all = runs.flatMap((run) => run.instances);
  const counted = all.every((i) => typeof i.roundTrips === 'number');
  return {
    statements: all.reduce((n, i) => n + i.statements, 0) / all.length,
    roundTrips: counted ? all.reduce((n, i) => n + (i.roundTrips ?? 0), 0) / all.length : null,
  };
}

function racerRows(racer: Racer, set: RaceSet, counts: readonly number[], runs: Runs): Row[] {
  const group = `${racerName(racer)}, .${set}`;
  const tool = racer === 'kysely' ? ('kysely' as const) : racer === 'floor' ? ('baseline' as const) : ('mig' as const);
  return counts.flatMap((n) => {
    const list = runs.get(runKey(racer, set, n)) ?? [];
    if (list.length === 0) return [];
    const label = n === 1 ? '1 process: start → done' : `${n} processes: start → all done`;
    const main: Row = { group, label, tool, summary: summarize(list.map((r) => r.wallMs)), ...perProcess(list) };
    if (n === 1) return [main];
    const spawned: Row = {
      group,
      label: `${n} processes: first spawn() → all done`,
      tool,
      summary: summarize(list.map((r) => r.spawnToReadyMs)),
      statements: null,
      roundTrips: null,
    };
    return [main, spawned];
  });
}

/**
 * Scenario 6: processes racing on an empty database with the same 50 migrations, for mig's two lock
 * strategies and Kysely's Migrator, against the floor of the same size measured the same way in the same run
 * (one process applying, the others reading an up-to-date status), and against one process alone. Also with
 * the migrations as `.sql` files, whose single round trips leave no idle time to hide contention in.
 * Exactly-once is checked after every run.
 */
export async function raceScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { sizes, rounds } = ctx.settings.race;
  const sqlFolder = await writeMigrationFolder(APPLY_COUNT, 'sql');
  try {
    const folders: RaceFolders = { js: ctx.ready.folder, sql: sqlFolder };
    const runs = await runAll(ctx, folders, sizes, rounds);
    return report(runs, sizes, rounds, started);
  } finally {
    await sqlFolder.dispose();
  }
}

function report(runs: Runs, sizes: readonly number[], rounds: number, started: number): ScenarioResult {
  const wall = (racer: Racer, set: RaceSet, n: number): Summary =>
    summarize((runs.get(runKey(racer, set, n)) ?? []).map((r) => r.wallMs));
  const largest = sizes[sizes.length - 1] as number;
  const rows = [
    ...[...RACE_TOOLS, 'floor' as const].flatMap((racer) => racerRows(racer, 'js', [1, ...sizes], runs)),
    ...[...LOCK_STRATEGIES, 'floor' as const].flatMap((racer) => racerRows(racer, 'sql', [1, largest], runs)),
  ];
  const comparisons: Comparison[] = [
    ...RACE_TOOLS.flatMap((tool) =>
      sizes.flatMap((n) => [
        {
          group: toolName(tool),
          label: `.js, ${n} processes / floor`,
          ratio: ratio(wall(tool, 'js', n), wall('floor', 'js', n)),
        },
        {
          group: toolName(tool),
          label: `.js, ${n} processes / 1 process`,
          ratio: ratio(wall(tool, 'js', n), wall(tool, 'js', 1)),
        },
      ]),
    ),
    ...LOCK_STRATEGIES.map((s) => ({
      group: toolName(s),
      label: `.sql, ${largest} processes / floor`,
      ratio: ratio(wall(s, 'sql', largest), wall('floor', 'sql', largest)),
    })),
  ];
  const targets = LOCK_STRATEGIES.flatMap((strategy) => raceTargets(strategy, sizes, runs, wall));
  const notes = [
    `${rounds} round(s); in each, every tool runs alone and at ${sizes.join(' and ')} processes with the .js migrations, and mig's locks alone and at ${largest} with the same migrations as .sql files; each run on a fresh database, the order flipping every round. The floor of N processes: one mig process (advisory lock) applies the migrations to a fresh database while N - 1 others, released at the same instant, open their pool and read the status of an up-to-date database; it is what this machine must do anyway for N processes, with no lock contended. "Start" is the moment the parent released every armed process (modules loaded, migrator built); "done" is each process's own clock when ensureInitialized() (mig, autoMigrate on; the floor's readers with autoMigrate off) or migrateToLatest() (Kysely) resolved. Statements and round trips are per process, counted on its pg clients.`,
    ...RACE_TOOLS.map((tool) =>
      raceNote(tool, runs.get(runKey(tool, 'js', largest)) ?? [], runs.get(runKey(tool, 'js', 1)) ?? []),
    ),
    ...LOCK_STRATEGIES.map(
      (s) => `.sql: ${raceNote(s, runs.get(runKey(s, 'sql', largest)) ?? [], runs.get(runKey(s, 'sql', 1)) ?? [])}`,
    ),
    kyselyCheckNote(runs, sizes),
  ];
  return {
    id: '6',
    title: `Processes racing on an empty database, ${APPLY_COUNT} migrations`,
    unit: 'wall time from the start line until every process is done',
    rows,
    comparisons,
    targets,
    notes,
    elapsedMs: performance.now() - started,
  };
}

function floorTarget(
  strategy: LockStrategy,
  set: RaceSet,
  n: number,
  wall: (r: Racer, s: RaceSet, n: number) => Summary,
  runs: Runs,
): TargetCheck {
  const holder = holderTimes(runs.get(runKey(strategy, set, n)) ?? [], runs.get(runKey(strategy, set, 1)) ?? []);
  const all = wall(strategy, set, n);
  const floor = wall('floor', set, n);
  const r = ratio(all, floor);
  const kysely =
    set === 'js' ? `; Kysely's Migrator: ${formatRatio(ratio(wall('kysely', set, n), floor))} of the same floor` : '';
  return {
    target: `${strategy}: ${n} processes racing (${APPLY_COUNT} .${set} migrations) all done within ${FLOOR_GOAL}x of the floor of ${n}`,
    met: r <= FLOOR_GOAL,
    detail: `${formatDuration(all.median)} vs the floor's ${formatDuration(floor.median)} (${formatRatio(r)}); one process alone ${formatDuration(wall(strategy, set, 1).median)}${kysely}`,
    why: holder
      ? `in the median race the applier held the lock ${formatDuration(holder.held)}, against ${formatDuration(holder.alone)} alone (${formatRatio(holder.held / holder.alone)}): its migrations share the two cores with the other ${n - 1} processes' starts and status reads, which the floor's applier shares too`
      : undefined,
  };
}

function waiterTarget(strategy: LockStrategy, set: RaceSet, n: number, runs: Runs): TargetCheck {
  const latency = waiterLatencies(runs.get(runKey(strategy, set, n)) ?? []);
  return {
    target: `${strategy}: every waiting process done within ${WAITER_GOAL_MS} ms of the holder's release (${n} processes, .${set})`,
    met: latency ? latency.medianOfLast <= WAITER_GOAL_MS : null,
    detail: latency
      ? `the last waiter was done ${formatDuration(latency.medianOfLast)} after the release (median over runs; worst ${formatDuration(latency.worst)}), the median waiter ${formatDuration(latency.medianWaiter)}; measured to done, so it includes the status read after waking`
      : 'no run recorded the holder release',
    why:
      latency === undefined
        ? undefined
        : strategy === 'lease'
          ? `the lease's waiters poll the lock row, up to ${formatDuration(DEFAULT_BACKOFF.maxDelayMs)} apart (the lease is the lock for poolers in transaction mode, where a waiter cannot LISTEN for the release); the median waiter was done ${formatDuration(latency.medianWaiter)} after it`
          : `the waiters are woken by the holder's release notice, then each reads the status on its own connection; ${n - 1} wake-ups and reads on two cores put the median waiter ${formatDuration(latency.medianWaiter)} after the release, and the last one later`,
  };
}

function raceTargets(
  strategy: LockStrategy,
  sizes: readonly number[],
  runs: Runs,
  wall: (racer: Racer, set: RaceSet, n: number) => Summary,
): TargetCheck[] {
  const largest = sizes[sizes.length - 1] as number;
  const everyRun = [...runs].filter(([k]) => k.startsWith(`${strategy}:`)).flatMap(([, list]) => list);
  const bad = everyRun.find((run) => !run.exactlyOnce.ok);
  return [
    ...sizes.map((n) => floorTarget(strategy, 'js', n, wall, runs)),
    floorTarget(strategy, 'sql', largest, wall, runs),
    waiterTarget(strategy, 'js', largest, runs),
    waiterTarget(strategy, 'sql', largest, runs),
    {
      target: `${strategy}: exactly once in every race (each migration recorded once and run once)`,
      kind: 'correctness',
      met: everyRun.length > 0 && bad === undefined,
      detail: (bad ?? everyRun[everyRun.length - 1])?.exactlyOnce.detail ?? 'no run',
    },
  ];
}

/** Kysely's exactly-once result is the peer's business: reported, never a reason to fail mig's run. */
function kyselyCheckNote(runs: Runs, sizes: readonly number[]): string {
  const all = [1, ...sizes].flatMap((n) => runs.get(runKey('kysely', 'js', n)) ?? []);
  const bad = all.filter((run) => !run.exactlyOnce.ok);
  return bad.length === 0
    ? `Kysely's Migrator applied each migration exactly once in all ${all.length} of its runs.`
    : `Kysely's Migrator was not exactly once in ${bad.length} of ${all.length} runs: ${bad[0]?.exactlyOnce.detail}.`;
}
