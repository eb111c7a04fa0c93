import { type PgBouncer, type PgBouncerStats, startPgBouncer } from '@mig/pgbouncer';
import { type Child, childScript, releaseRace, startChild } from '../children.js';
import { POOLER_POOL_SIZE } from '../config.js';
import { ADMIN_URL, type BenchDatabase, createDatabase } from '../db.js';
import { formatDuration, formatRatio } from '../format.js';
import { ratio, summarize } from '../stats.js';
import type { Comparison, Row, ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';
import type { Ready } from './race-result.js';
import { checkExactlyOnce } from './race-runs.js';

type Variant = 'race' | 'status';

/**
 * How long a child may live: starting 100 Node processes at once on two shared cores takes minutes (every
 * one of them loads its modules at the same time), and the bench's watchdog still bounds the whole run.
 */
const CHILD_LIFETIME_MS = 10 * 60_000;

interface Run {
  /** From the start line to the last instance ready. */
  readonly wallMs: number;
  /** From the first spawn() to the last instance ready: what a deploy of this many processes sees. */
  readonly spawnToReadyMs: number;
  readonly instances: readonly Ready[];
  /** What PgBouncer counted for the run's database during the run. */
  readonly pooler: PgBouncerStats;
  readonly check: { readonly ok: boolean; readonly detail: string };
}

/**
 * Starts `count` instances on `database` through the pooler, waits until every one is armed, releases them
 * all with one start line, and waits until every one is ready. Race instances migrate (lease lock);
 * status instances only check.
 */
async function launch(ctx: BenchContext, pooler: PgBouncer, database: BenchDatabase, variant: Variant, count: number) {
  const children: Child[] = [];
  const before = await pooler.stats(database.name);
  try {
    for (let i = 0; i < count; i++) {
      const args = ['--url', pooler.url(database.name), '--dir', ctx.ready.folder.dir, '--strategy', 'lease'];
      children.push(
        startChild(
          childScript('race-instance'),
          [...args, '--name', `bench-pooled-${variant}-${i}`, ...(variant === 'status' ? ['--check-only'] : [])],
          CHILD_LIFETIME_MS,
        ),
      );
    }
    const { wallMs, spawnToReadyMs, instances } = await releaseRace<Ready>(children, CHILD_LIFETIME_MS);
    const after = await pooler.stats(database.name);
    return {
      wallMs,
      spawnToReadyMs,
      instances,
      pooler: {
        transactions: after.transactions - before.transactions,
        queries: after.queries - before.queries,
        waitMs: after.waitMs - before.waitMs,
      },
    };
  } finally {
    for (const c of children) c.process.kill('SIGKILL');
  }
}

/** Each migration applied exactly once by the race; every status instance found the database up to date. */
async function raceRun(ctx: BenchContext, pooler: PgBouncer, count: number): Promise<Run> {
  const database = await createDatabase(`pooled_race_${count}`);
  try {
    const run = await launch(ctx, pooler, database, 'race', count);
    return { ...run, check: await checkExactlyOnce(database.url, run.instances) };
  } finally {
    await database.drop();
  }
}

async function statusRun(ctx: BenchContext, pooler: PgBouncer, count: number): Promise<Run> {
  const run = await launch(ctx, pooler, ctx.ready.database, 'status', count);
  const upToDate = run.instances.filter((i) => i.migrations === 'up-to-date').length;
  const applied = run.instances.flatMap((i) => i.appliedHere).length;
  return {
    ...run,
    check: {
      ok: upToDate === count && applied === 0,
      detail: `${upToDate} of ${count} found the database up to date, ${applied} migrations applied`,
    },
  };
}

/**
 * Scenario 9: many instances with the lease lock start at once through one PgBouncer in transaction mode
 * (10 server connections) on an empty database, against the same number of instances (the same child,
 * autoMigrate off) that only check the status of an up-to-date database through the same pooler. Both
 * are loaded first and released at one instant; both are timed from the first spawn() (the whole deploy,
 * process start included) and from the start line. Rounds alternate which goes first.
 */
export async function poolerScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { instances: count, rounds } = ctx.settings.pooler;
  const pooler = await startPgBouncer({
    upstream: ADMIN_URL,
    poolMode: 'transaction',
    poolSize: POOLER_POOL_SIZE,
    maxClients: count * 2 + 20,
  });
  const runs: Record<Variant, Run[]> = { race: [], status: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      const order: Variant[] = r % 2 === 0 ? ['race', 'status'] : ['status', 'race'];
      for (const variant of order) {
        const run = variant === 'race' ? await raceRun(ctx, pooler, count) : await statusRun(ctx, pooler, count);
        runs[variant].push(run);
        ctx.log(
          `  ${variant}, ${count} instances: ${formatDuration(run.spawnToReadyMs)} spawn → all ready, ${formatDuration(run.wallMs)} start → all ready; ${run.check.ok ? 'ok' : `NOT OK: ${run.check.detail}`}`,
        );
      }
    }
  } finally {
    await pooler.stop();
  }
  return report(ctx, count, runs, performance.now() - started);
}

function report(ctx: BenchContext, count: number, runs: Record<Variant, Run[]>, elapsedMs: number): ScenarioResult {
  const group = `${count} instances, PgBouncer (${POOLER_POOL_SIZE} server connections)`;
  const perInstance = (list: readonly Run[]) =>
    list.reduce((n, run) => n + run.instances.reduce((m, i) => m + i.statements, 0), 0) /
    list.reduce((n, run) => n + run.instances.length, 0);
  const whole = {
    race: summarize(runs.race.map((r) => r.spawnToReadyMs)),
    status: summarize(runs.status.map((r) => r.spawnToReadyMs)),
  };
  const fromStart = {
    race: summarize(runs.race.map((r) => r.wallMs)),
    status: summarize(runs.status.map((r) => r.wallMs)),
  };
  const rows: Row[] = [
    {
      group,
      label: 'lease race (migrates): first spawn() → all ready',
      tool: 'mig',
      summary: whole.race,
      statements: perInstance(runs.race),
    },
    {
      group,
      label: 'status checks: first spawn() → all ready',
      tool: 'mig',
      summary: whole.status,
      statements: perInstance(runs.status),
    },
    {
      group,
      label: 'lease race (migrates): start → all ready',
      tool: 'mig',
      summary: fromStart.race,
      statements: null,
    },
    { group, label: 'status checks: start → all ready', tool: 'mig', summary: fromStart.status, statements: null },
  ];
  const wholeRatio = ratio(whole.race, whole.status);
  const startRatio = ratio(fromStart.race, fromStart.status);
  const comparisons: Comparison[] = [
    { group, label: 'race / status checks, whole processes', ratio: wholeRatio },
    { group, label: 'race / status checks, from the start line', ratio: startRatio },
  ];
  const failed = (variant: Variant) => runs[variant].find((r) => !r.check.ok);
  const targets: TargetCheck[] = [
    {
      target: `${count} lease instances through PgBouncer within 1.3x of ${count} status checks through it (whole processes)`,
      met: wholeRatio <= 1.3,
      detail: `${formatDuration(whole.race.median)} vs ${formatDuration(whole.status.median)} (${formatRatio(wholeRatio)}); from the start line ${formatDuration(fromStart.race.median)} vs ${formatDuration(fromStart.status.median)} (${formatRatio(startRatio)})`,
    },
    {
      target: `${count} lease instances through PgBouncer: all ready, exactly once`,
      kind: 'correctness',
      met: failed('race') === undefined,
      detail: (failed('race') ?? runs.race[0])?.check.detail ?? '',
    },
    {
      target: `${count} status instances through PgBouncer: all ready, nothing applied`,
      kind: 'correctness',
      met: failed('status') === undefined,
      detail: (failed('status') ?? runs.status[0])?.check.detail ?? '',
    },
  ];
  const pooled = (variant: Variant) => {
    const last = runs[variant][runs[variant].length - 1];
    return last
      ? `${variant}: ${last.pooler.transactions} transactions, ${last.pooler.queries} queries, clients waited ${formatDuration(last.pooler.waitMs)} in all for a server connection`
      : `${variant}: no run`;
  };
  return {
    id: '9',
    title: `${count} instances through PgBouncer: lease race vs status checks`,
    unit: 'wall time until every instance is ready',
    rows,
    comparisons,
    targets,
    notes: [
      `${ctx.settings.pooler.rounds} round(s), alternating which variant goes first; the race on a fresh empty database, the status checks on the up-to-date one, both through one PgBouncer in transaction mode (default_pool_size ${POOLER_POOL_SIZE}). The same child process either way: imports, builds its service (lease lock, pool of 2), says "armed"; all are released by one start line. "Whole processes" counts from the first spawn(), so the start-up of ${count} Node processes on this machine is in both figures; "from the start line" leaves it out, and then the race also holds the time one instance takes to apply the ${ctx.ready.folder.migrations.length} migrations.`,
      `What PgBouncer counted in the last round: ${pooled('race')}; ${pooled('status')}.`,
    ],
    elapsedMs,
  };
}
