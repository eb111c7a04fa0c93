import { LOCK_STRATEGIES, type LockStrategy } from '@mig/core';
import { DEFAULT_TABLE } from '@mig/core/adapter';
import pg from 'pg';
import { type Child, childScript, releaseRace, startChild } from '../children.js';
import { APPLY_COUNT } from '../config.js';
import { createDatabase } from '../db.js';
import { formatDuration, formatRatio } from '../format.js';
import { ratio, type Summary, summarize } from '../stats.js';
import type { Comparison, Row, ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';
import { raceNote, waiterLatencies } from './race-notes.js';
import { RACE_TOOLS, type RaceRun, type RaceTool, type Ready, toolName } from './race-result.js';

/**
 * Starts `processes` application instances on a fresh empty database, waits until every one has imported
 * its modules and built its migrator ("armed"), then writes the start line to all of them at once. mig's
 * instances run `ensureInitialized()` with autoMigrate on; Kysely's run `migrateToLatest()`. On a 2-core
 * machine, starting 30 Node processes takes seconds of CPU by itself; the start signal keeps that out of
 * the figure, which is about the migration lock.
 */
async function race(ctx: BenchContext, tool: RaceTool, processes: number): Promise<RaceRun> {
  const database = await createDatabase(`race_${tool}_${processes}`);
  const children: Child[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      const args = ['--url', database.url, '--dir', ctx.ready.folder.dir, '--name', `bench-${tool}-${i}`];
      children.push(
        tool === 'kysely'
          ? startChild(childScript('race-kysely'), args)
          : startChild(childScript('race-instance'), [...args, '--strategy', tool]),
      );
    }
    const { goAt, wallMs, spawnToReadyMs, instances } = await releaseRace<Ready>(children);
    return {
      goAt,
      wallMs,
      spawnToReadyMs,
      instances,
      exactlyOnce: await checkExactlyOnce(
        database.url,
        instances,
        tool === 'kysely' ? 'kysely_migration' : DEFAULT_TABLE,
      ),
    };
  } finally {
    for (const c of children) c.process.kill('SIGKILL');
    await database.drop();
  }
}

/** Each migration recorded once, run once (one audit row each), and applied by exactly one process. */
export async function checkExactlyOnce(
  url: string,
  instances: readonly Ready[],
  recordTable: string = DEFAULT_TABLE,
): Promise<{ ok: boolean; detail: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const records = await client.query<{ n: number; distinct: number }>(
      `select count(*)::int as n, count(distinct name)::int as distinct from ${recordTable}`,
    );
    // The first migration creates the audit table and is the only one that writes no audit row.
    const audit = await client.query<{ n: number; distinct: number; pids: number }>(
      'select count(*)::int as n, count(distinct migration)::int as distinct, count(distinct pid)::int as pids from audit',
    );
    const rec = records.rows[0] as { n: number; distinct: number };
    const aud = audit.rows[0] as { n: number; distinct: number; pids: number };
    const appliedHere = instances.flatMap((i) => i.appliedHere);
    const appliers = instances.filter((i) => i.appliedHere.length > 0).length;
    const failures = instances.filter((i) => i.migrations !== 'applied' && i.migrations !== 'up-to-date');
    const ok =
      rec.n === APPLY_COUNT &&
      rec.distinct === APPLY_COUNT &&
      aud.n === APPLY_COUNT - 1 &&
      aud.distinct === APPLY_COUNT - 1 &&
      appliedHere.length === APPLY_COUNT &&
      new Set(appliedHere).size === APPLY_COUNT &&
      failures.length === 0;
    const failed =
      failures.length > 0
        ? `; ${failures.length} process(es) failed: ${failures[0]?.error ?? failures[0]?.migrations}`
        : '';
    return {
      ok,
      detail: `${rec.n} records (${rec.distinct} distinct), ${aud.n} audit rows (${aud.distinct} distinct, written by ${aud.pids} process(es)), ${appliedHere.length} applications reported by ${appliers} process(es)${failed}`,
    };
  } finally {
    await client.end();
  }
}

type Runs = Map<string, RaceRun[]>;
const key = (tool: RaceTool, processes: number) => `${tool}:${processes}`;

/**
 * Runs every tool at every size and alone, interleaved: in each round the tools take turns (their order
 * flipping every round), and each tool's sizes alternate between ascending and descending.
 */
async function runAll(ctx: BenchContext, sizes: readonly number[], rounds: number): Promise<Runs> {
  const runs: Runs = new Map();
  for (let r = 0; r < rounds; r++) {
    const tools = r % 2 === 0 ? RACE_TOOLS : [...RACE_TOOLS].reverse();
    for (const tool of tools) {
      const counts = r % 2 === 0 ? [1, ...sizes] : [...sizes].reverse().concat(1);
      for (const n of counts) {
        const run = await race(ctx, tool, n);
        runs.set(key(tool, n), [...(runs.get(key(tool, n)) ?? []), run]);
        ctx.log(
          `  ${toolName(tool)}, ${n} process(es): ${formatDuration(run.wallMs)} start → all done; ${run.exactlyOnce.ok ? 'exactly once' : `NOT exactly once: ${run.exactlyOnce.detail}`}`,
        );
      }
    }
  }
  return runs;
}

/** Mean statements and round trips per process over `runs`. */
function perProcess(runs: readonly RaceRun[]): { statements: number; roundTrips: number | null } {
  const all = runs.flatMap((run) => run.instances);
  const counted = all.every((i) => typeof i.roundTrips === 'number');
  return {
    statements: all.reduce((n, i) => n + i.statements, 0) / all.length,
    roundTrips: counted ? all.reduce((n, i) => n + (i.roundTrips ?? 0), 0) / all.length : null,
  };
}

function toolRows(tool: RaceTool, sizes: readonly number[], runs: Runs): Row[] {
  const group = toolName(tool);
  const tooling = tool === 'kysely' ? ('kysely' as const) : ('mig' as const);
  const of = (n: number) => runs.get(key(tool, n)) ?? [];
  const row = (label: string, list: RaceRun[], wall: (r: RaceRun) => number, counted: boolean): Row => ({
    group,
    label,
    tool: tooling,
    summary: summarize(list.map(wall)),
    ...(counted ? perProcess(list) : { statements: null, roundTrips: null }),
  });
  return [
    row('1 process: start → done', of(1), (r) => r.wallMs, true),
    ...sizes.flatMap((n) => [
      row(`${n} processes: start → all done`, of(n), (r) => r.wallMs, true),
      row(`${n} processes: first spawn() → all done`, of(n), (r) => r.spawnToReadyMs, false),
    ]),
  ];
}

/**
 * Scenario 6: processes racing on an empty database with the same 50 migrations, for mig's two lock
 * strategies and Kysely's Migrator; wall time from the start line to the last one done, against one process
 * doing the same from the same kind of start. Exactly-once is checked after every run.
 */
export async function raceScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { sizes, rounds } = ctx.settings.race;
  const runs = await runAll(ctx, sizes, rounds);
  const wall = (tool: RaceTool, n: number): Summary => summarize((runs.get(key(tool, n)) ?? []).map((r) => r.wallMs));
  const rows = RACE_TOOLS.flatMap((tool) => toolRows(tool, sizes, runs));
  const comparisons: Comparison[] = RACE_TOOLS.flatMap((tool) =>
    sizes.map((n) => ({
      group: toolName(tool),
      label: `${n} processes / 1 process`,
      ratio: ratio(wall(tool, n), wall(tool, 1)),
    })),
  );
  const targets = LOCK_STRATEGIES.flatMap((strategy) => raceTargets(strategy, sizes, runs, wall));
  const largest = sizes[sizes.length - 1] as number;
  const notes = [
    `${rounds} round(s); in each, every tool runs alone and at ${sizes.join(' and ')} processes, each run on a fresh database, the tools taking turns. "Start" is the moment the parent released every armed process (modules loaded, migrator built); "done" is each process's own clock when ensureInitialized() (mig, autoMigrate on) or migrateToLatest() (Kysely) resolved. Statements and round trips are per process, counted on its pg clients.`,
    ...RACE_TOOLS.map((tool) => raceNote(tool, runs.get(key(tool, largest)) ?? [], runs.get(key(tool, 1)) ?? [])),
    ...kyselyCheckNotes(runs, sizes),
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

function raceTargets(
  strategy: LockStrategy,
  sizes: readonly number[],
  runs: Runs,
  wall: (tool: RaceTool, n: number) => Summary,
): TargetCheck[] {
  const one = wall(strategy, 1);
  const kyselyOne = wall('kysely', 1);
  const timing = sizes.map((n): TargetCheck => {
    const all = wall(strategy, n);
    const kysely = wall('kysely', n);
    const r = ratio(all, one);
    return {
      target: `${strategy}: ${n} processes racing (${APPLY_COUNT} migrations) all done within 1.5x of one process`,
      met: r <= 1.5,
      detail: `${formatDuration(all.median)} vs ${formatDuration(one.median)} (${formatRatio(r)}${r > 1.5 ? `, ${formatRatio(r / 1.5)} over the goal` : ''}); Kysely's Migrator in the same run: ${formatDuration(kysely.median)} vs ${formatDuration(kyselyOne.median)} (${formatRatio(ratio(kysely, kyselyOne))})`,
    };
  });
  const everyRun = [1, ...sizes].flatMap((n) => runs.get(key(strategy, n)) ?? []);
  const bad = everyRun.find((run) => !run.exactlyOnce.ok);
  const largest = sizes[sizes.length - 1] as number;
  const latency = waiterLatencies(runs.get(key(strategy, largest)) ?? []);
  return [
    ...timing,
    {
      target: `${strategy}: a waiting process is done within 100 ms of the holder's release (${largest} processes)`,
      met: latency ? latency.medianOfLast <= 100 : null,
      detail: latency
        ? `the last waiter was done ${formatDuration(latency.medianOfLast)} after the release (median over runs; worst ${formatDuration(latency.worst)}), the median waiter ${formatDuration(latency.medianWaiter)}; measured to done, so it includes the status read after waking`
        : 'no run recorded the holder release',
    },
    {
      target: `${strategy}: exactly once in every race (each migration recorded once and run once)`,
      kind: 'correctness',
      met: everyRun.length > 0 && bad === undefined,
      detail: (bad ?? everyRun[everyRun.length - 1])?.exactlyOnce.detail ?? 'no run',
    },
  ];
}

/** Kysely's exactly-once result is the peer's business: reported, never a reason to fail mig's run. */
function kyselyCheckNotes(runs: Runs, sizes: readonly number[]): string[] {
  const all = [1, ...sizes].flatMap((n) => runs.get(key('kysely', n)) ?? []);
  const bad = all.filter((run) => !run.exactlyOnce.ok);
  return [
    bad.length === 0
      ? `Kysely's Migrator applied each migration exactly once in all ${all.length} of its runs.`
      : `Kysely's Migrator was not exactly once in ${bad.length} of ${all.length} runs: ${bad[0]?.exactlyOnce.detail}.`,
  ];
}
