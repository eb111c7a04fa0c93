import { DEFAULT_TABLE, LOCK_STRATEGIES, type LockStrategy } from '@mig/core';
import pg from 'pg';
import { type Child, childScript, startChild } from '../children.js';
import type { LockTimings } from '../compose.js';
import { APPLY_COUNT } from '../config.js';
import { createDatabase } from '../db.js';
import { formatDuration, formatRatio } from '../format.js';
import { ratio, summarize } from '../stats.js';
import type { Comparison, Row, ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';

/** What a race instance reports when it is ready (see child/race-instance.ts). */
export interface Ready {
  readonly name: string;
  readonly startedAt: number;
  readonly readyAt: number;
  readonly appliedHere: string[];
  readonly lockWaitMs: number | null;
  readonly lock: LockTimings;
  readonly migrations: string;
  readonly statements: number;
}

interface RaceRun {
  /** When the parent sent the start line (wall clock, ms). */
  readonly goAt: number;
  /** From the start signal to the last process ready. */
  readonly wallMs: number;
  /** From the first spawn() to the last process ready (process start and imports included). */
  readonly spawnToReadyMs: number;
  readonly instances: readonly Ready[];
  readonly exactlyOnce: { readonly ok: boolean; readonly detail: string };
}

/**
 * Starts `processes` application instances on a fresh empty database, waits until every one has imported
 * its modules and built its service ("armed"), then writes the start line to all of them at once; each runs
 * `ensureInitialized()` with autoMigrate on. On a 2-core machine, starting 20 Node processes takes seconds of
 * CPU by itself; the start signal keeps that out of the figure, which is about the migration lock.
 */
async function race(ctx: BenchContext, strategy: LockStrategy, processes: number): Promise<RaceRun> {
  const database = await createDatabase(`race_${strategy}_${processes}`);
  const children: Child[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      children.push(
        startChild(childScript('race-instance'), [
          '--url',
          database.url,
          '--dir',
          ctx.ready.folder.dir,
          '--strategy',
          strategy,
          '--name',
          `bench-${strategy}-${i}`,
        ]),
      );
    }
    await Promise.all(children.map((c) => c.message('armed', 120_000)));
    const goAt = performance.timeOrigin + performance.now();
    for (const c of children) c.send('go');
    const ready = await Promise.all(children.map((c) => c.message('ready', 180_000)));
    await Promise.all(children.map((c) => c.exited));
    const instances = ready.map((m) => m.data as unknown as Ready);
    const lastReady = Math.max(...instances.map((i) => i.readyAt));
    const firstSpawn = Math.min(...children.map((c) => c.spawnedAt)) + performance.timeOrigin;
    return {
      goAt,
      wallMs: lastReady - goAt,
      spawnToReadyMs: lastReady - firstSpawn,
      instances,
      exactlyOnce: await checkExactlyOnce(database.url, instances),
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
): Promise<{ ok: boolean; detail: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const records = await client.query<{ n: number; distinct: number }>(
      `select count(*)::int as n, count(distinct name)::int as distinct from ${DEFAULT_TABLE}`,
    );
    // The first migration creates the audit table and is the only one that writes no audit row.
    const audit = await client.query<{ n: number; distinct: number; pids: number }>(
      'select count(*)::int as n, count(distinct migration)::int as distinct, count(distinct pid)::int as pids from audit',
    );
    const rec = records.rows[0] as { n: number; distinct: number };
    const aud = audit.rows[0] as { n: number; distinct: number; pids: number };
    const appliedHere = instances.flatMap((i) => i.appliedHere);
    const appliers = instances.filter((i) => i.appliedHere.length > 0).length;
    const allReady = instances.every((i) => i.migrations === 'applied' || i.migrations === 'up-to-date');
    const ok =
      rec.n === APPLY_COUNT &&
      rec.distinct === APPLY_COUNT &&
      aud.n === APPLY_COUNT - 1 &&
      aud.distinct === APPLY_COUNT - 1 &&
      appliedHere.length === APPLY_COUNT &&
      new Set(appliedHere).size === APPLY_COUNT &&
      allReady;
    return {
      ok,
      detail: `${rec.n} records (${rec.distinct} distinct), ${aud.n} audit rows (${aud.distinct} distinct, written by ${aud.pids} process(es)), ${appliedHere.length} applications reported by ${appliers} process(es)`,
    };
  } finally {
    await client.end();
  }
}

/**
 * Scenario 6: 20 processes start together on an empty database and each runs mig's service with autoMigrate
 * on the same 100 migrations; wall time until all are ready, against one process doing the same alone
 * (measured the same way), with the advisory lock and with the lease lock. Exactly-once is checked after
 * every run.
 */
export async function raceScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { processes, rounds } = ctx.settings.race;
  const rows: Row[] = [];
  const comparisons: Comparison[] = [];
  const targets: TargetCheck[] = [];
  const notes: string[] = [];
  for (const strategy of LOCK_STRATEGIES) {
    const single: RaceRun[] = [];
    const many: RaceRun[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, as everywhere else.
      const order = r % 2 === 0 ? [1, processes] : [processes, 1];
      for (const n of order) {
        const run = await race(ctx, strategy, n);
        (n === 1 ? single : many).push(run);
        ctx.log(
          `  ${strategy}, ${n} process(es): ${formatDuration(run.wallMs)} start → all ready; ${run.exactlyOnce.ok ? 'exactly once' : `NOT exactly once: ${run.exactlyOnce.detail}`}`,
        );
      }
    }
    const group = `${strategy} lock`;
    const one = summarize(single.map((s) => s.wallMs));
    const all = summarize(many.map((s) => s.wallMs));
    const perProcess = (runs: RaceRun[]) =>
      runs.reduce((n, run) => n + run.instances.reduce((m, i) => m + i.statements, 0), 0) /
      runs.reduce((n, run) => n + run.instances.length, 0);
    rows.push(
      { group, label: '1 process: start → ready', tool: 'mig', summary: one, statements: perProcess(single) },
      {
        group,
        label: `${processes} processes: start → all ready`,
        tool: 'mig',
        summary: all,
        statements: perProcess(many),
      },
      {
        group,
        label: `${processes} processes: first spawn() → all ready (process start included)`,
        tool: 'mig',
        summary: summarize(many.map((s) => s.spawnToReadyMs)),
        statements: null,
      },
    );
    const r = ratio(all, one);
    comparisons.push({ group, label: `${processes} processes / 1 process`, ratio: r });
    targets.push(
      {
        target: `${strategy}: ${processes} processes all ready within 1.5x of one process's full apply`,
        met: r <= 1.5,
        detail: `${formatDuration(all.median)} vs ${formatDuration(one.median)} (${formatRatio(r)})`,
      },
      {
        target: `${strategy}: exactly once (each migration recorded once and run once)`,
        kind: 'correctness',
        met: [...single, ...many].every((run) => run.exactlyOnce.ok),
        detail:
          ([...single, ...many].find((run) => !run.exactlyOnce.ok) ?? many[0] ?? single[0])?.exactlyOnce.detail ?? '',
      },
    );
    notes.push(latencyNote(strategy, many, single));
  }
  notes.unshift(
    `${rounds} round(s) per strategy; each run on a fresh database. "Start" is the moment the parent released every armed process; "ready" is each process's own clock when ensureInitialized() resolved (statements are per process).`,
  );
  return {
    id: '6',
    title: `${processes} processes racing on an empty database`,
    unit: 'wall time until every process is ready',
    rows,
    comparisons,
    targets,
    notes,
    elapsedMs: performance.now() - started,
  };
}

/**
 * Where the time goes in a race (its median run), from the lock timings each process recorded: when the
 * applier got the lock and how long it held it, against the lone process; then how long after its release
 * the others got the lock (each one in turn, only to find nothing left to do) and were ready.
 */
function latencyNote(strategy: string, runs: readonly RaceRun[], single: readonly RaceRun[]): string {
  const median = (list: readonly RaceRun[]) => [...list].sort((a, b) => a.wallMs - b.wallMs)[list.length >> 1];
  const run = median(runs);
  const alone = median(single)?.instances[0];
  const applier = run?.instances.find((i) => i.appliedHere.length > 0);
  if (!run || !alone || !applier || applier.lock.acquiredAt === undefined || applier.lock.releasedAt === undefined) {
    return `${strategy}: no lock timings recorded`;
  }
  const since = (t: number | undefined, from: number) => (t === undefined ? Number.NaN : t - from);
  const released = applier.lock.releasedAt;
  const others = run.instances.filter((i) => i !== applier);
  const took = others.map((i) => since(i.lock.acquiredAt, released)).filter((t) => !Number.isNaN(t));
  // A waiter that learns the work is done (the holder's notices, a status look) never takes the lock at all.
  if (took.length < others.length) {
    const ready = summarize(others.map((i) => i.readyAt - released));
    return (
      `${strategy}, median run (${formatDuration(run.wallMs)}): the applier got the lock ${formatDuration(applier.lock.acquiredAt - run.goAt)} after the start and held it ${formatDuration(released - applier.lock.acquiredAt)}; ` +
      `of the other ${others.length}, ${took.length} took the lock after its release and ${others.length - took.length} finished without it; all were ready ${formatDuration(ready.max)} after the release.`
    );
  }
  const gotLock = summarize(took);
  const ready = summarize(others.map((i) => i.readyAt - released));
  const aloneGot = since(alone.lock.acquiredAt, median(single)?.goAt ?? Number.NaN);
  const aloneHeld = since(alone.lock.releasedAt, alone.lock.acquiredAt ?? Number.NaN);
  return (
    `${strategy}, median run (${formatDuration(run.wallMs)}): the applier got the lock ${formatDuration(applier.lock.acquiredAt - run.goAt)} after the start and held it ${formatDuration(released - applier.lock.acquiredAt)} ` +
    `(alone: ${formatDuration(aloneGot)} and ${formatDuration(aloneHeld)}); after its release the other ${others.length} got the lock ${formatDuration(gotLock.min)}–${formatDuration(gotLock.max)} later (median ${formatDuration(gotLock.median)}), ` +
    `one at a time and only to find nothing left to do, and were all ready ${formatDuration(ready.max)} after the release.`
  );
}
