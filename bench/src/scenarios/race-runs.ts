import { DEFAULT_TABLE } from '@mig/core/adapter';
import pg from 'pg';
import { type Child, childScript, releaseRace, startChild } from '../children.js';
import { APPLY_COUNT } from '../config.js';
import { createDatabase } from '../db.js';
import { formatDuration } from '../format.js';
import type { MigrationFolder } from '../migrations.js';
import type { BenchContext } from './context.js';
import { type RaceRun, type Racer, type RaceSet, type Ready, racerName } from './race-result.js';

/** The folders a race applies: the `.js` modules Kysely also reads, and the same migrations as `.sql` files. */
export type RaceFolders = Readonly<Record<RaceSet, MigrationFolder>>;

function instanceArgs(url: string, dir: string, name: string, strategy: string, checkOnly = false): string[] {
  return ['--url', url, '--dir', dir, '--name', name, '--strategy', strategy, ...(checkOnly ? ['--check-only'] : [])];
}

/**
 * The processes of one run. mig's instances run `ensureInitialized()` with autoMigrate on, Kysely's
 * `migrateToLatest()`. The floor is what the machine must do anyway in a race of `processes`: one process
 * applying alone (mig, advisory lock) while `processes - 1` others start at the same instant, open their
 * pool and read the status of an up-to-date database; no lock is contended, no one waits for anyone.
 */
function startRacers(ctx: BenchContext, racer: Racer, processes: number, url: string, dir: string): Child[] {
  const children: Child[] = [];
  for (let i = 0; i < processes; i++) {
    const name = `bench-${racer}-${i}`;
    if (racer === 'kysely') {
      children.push(startChild(childScript('race-kysely'), ['--url', url, '--dir', dir, '--name', name]));
    } else if (racer === 'floor' && i > 0) {
      const ready = instanceArgs(ctx.ready.database.url, ctx.ready.folder.dir, name, 'advisory', true);
      children.push(startChild(childScript('race-instance'), ready));
    } else {
      const strategy = racer === 'floor' ? 'advisory' : racer;
      children.push(startChild(childScript('race-instance'), instanceArgs(url, dir, name, strategy)));
    }
  }
  return children;
}

/**
 * One race on a fresh empty database: every process is started and waits until it has imported its modules
 * and built its migrator ("armed"); then the start line goes to all of them at once. On a 2-core machine,
 * starting 30 Node processes takes seconds of CPU by itself; the start line keeps that out of the figure.
 */
export async function race(
  ctx: BenchContext,
  racer: Racer,
  processes: number,
  folder: MigrationFolder,
): Promise<RaceRun> {
  const database = await createDatabase(`race_${racer}_${processes}`);
  const children = startRacers(ctx, racer, processes, database.url, folder.dir);
  try {
    const { goAt, wallMs, spawnToReadyMs, instances } = await releaseRace<Ready>(children);
    // The floor's readers looked at another database: only its applier is checked.
    const applying = racer === 'floor' ? instances.slice(0, 1) : instances;
    const table = racer === 'kysely' ? 'kysely_migration' : DEFAULT_TABLE;
    return {
      goAt,
      wallMs,
      spawnToReadyMs,
      instances,
      exactlyOnce: await checkExactlyOnce(database.url, applying, table),
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

export type Runs = Map<string, RaceRun[]>;
export const runKey = (racer: Racer, set: RaceSet, processes: number) => `${racer}:${set}:${processes}`;

/** What runs in a round: every racer on the `.js` folder at each size and alone; mig and the floor on `.sql` at the largest. */
function plan(sizes: readonly number[], round: number): [Racer, RaceSet, number][] {
  const flip = <T>(list: readonly T[]) => (round % 2 === 0 ? [...list] : [...list].reverse());
  const largest = sizes[sizes.length - 1] as number;
  const js = flip<Racer>(['advisory', 'lease', 'kysely', 'floor']).flatMap((racer) =>
    flip(racer === 'floor' ? sizes : [1, ...sizes]).map((n): [Racer, RaceSet, number] => [racer, 'js', n]),
  );
  const sql = flip<Racer>(['advisory', 'lease', 'floor']).flatMap((racer) =>
    flip(racer === 'floor' ? [largest] : [1, largest]).map((n): [Racer, RaceSet, number] => [racer, 'sql', n]),
  );
  return round % 2 === 0 ? [...js, ...sql] : [...sql, ...js];
}

/** Every planned run of every round, interleaved (the order flips every round), each on a fresh database. */
export async function runAll(ctx: BenchContext, folders: RaceFolders, sizes: readonly number[], rounds: number) {
  const runs: Runs = new Map();
  for (let r = 0; r < rounds; r++) {
    for (const [racer, set, n] of plan(sizes, r)) {
      const run = await race(ctx, racer, n, folders[set]);
      const k = runKey(racer, set, n);
      runs.set(k, [...(runs.get(k) ?? []), run]);
      ctx.log(
        `  ${racerName(racer)} (.${set}), ${n} process(es): ${formatDuration(run.wallMs)} start → all done; ${run.exactlyOnce.ok ? 'exactly once' : `NOT exactly once: ${run.exactlyOnce.detail}`}`,
      );
    }
  }
  return runs;
}
