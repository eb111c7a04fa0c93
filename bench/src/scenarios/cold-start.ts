import { childScript, startChild } from '../children.js';
import { formatDuration, formatRatio } from '../format.js';
import { interleave, type Variant } from '../measure.js';
import { ratio, type Summary, summarize } from '../stats.js';
import type { ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';

type Kind = 'service' | 'migrator' | 'kysely' | 'pg';

interface ReadyMessage {
  readonly importedAt: number;
  readonly readyAt: number;
  readonly statements: number;
  readonly migrations?: string;
}

const VARIANTS: Record<Kind, { label: string; tool: 'mig' | 'baseline'; expect?: string }> = {
  service: {
    label: '@mig/service createDatabase(): spawn → ensureInitialized() (up to date)',
    tool: 'mig',
    expect: 'up-to-date',
  },
  migrator: { label: 'createMigrator() + status(): spawn → answer (up to date)', tool: 'mig', expect: 'up-to-date' },
  kysely: { label: 'floor: spawn → Kysely (pg pool) + SELECT 1', tool: 'baseline' },
  pg: { label: 'reference: spawn → pg connect + SELECT 1, no Kysely', tool: 'baseline' },
};

/**
 * Scenario 4: a service's cold start, a new Node process from `spawn()` to ready on an up-to-date database.
 * mig as a service (`createDatabase()` of @mig/service, configured from its environment) and as a library
 * (`createMigrator()` + `status()` on mig's pg dialect); the floor is a process that loads Kysely and pg and
 * runs SELECT 1 through Kysely, which an application using mig loads anyway; pg alone for reference. Timed in
 * the parent, from just before spawn() to the child's "ready" line; the processes alternate.
 */
export async function coldStart(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, warmup } = ctx.settings.coldStart;
  const { url } = ctx.ready.database;
  const breakdown: Record<Kind, ReadyMessage[]> = { service: [], migrator: [], kysely: [], pg: [] };
  const start = async (kind: Kind): Promise<number[]> => {
    const args =
      kind === 'service' || kind === 'migrator' ? ['--url', url, '--dir', ctx.ready.folder.dir] : ['--url', url];
    const child = startChild(childScript(`cold-start-${kind}`), args, 60_000);
    const ready = await child.message('ready');
    await child.exited;
    const data = ready.data as unknown as ReadyMessage;
    const expected = VARIANTS[kind].expect;
    if (expected && data.migrations !== expected) {
      throw new Error(`the ${kind} cold start found "${data.migrations}", not an up-to-date database`);
    }
    breakdown[kind].push(data);
    return [ready.at - child.spawnedAt];
  };
  const kinds = Object.keys(VARIANTS) as Kind[];
  const variants: Variant[] = kinds.map((kind) => ({
    label: VARIANTS[kind].label,
    tool: VARIANTS[kind].tool,
    round: () => start(kind),
    statements: () => breakdown[kind].reduce((n, b) => n + b.statements, 0),
  }));
  const rows = await interleave(variants, {
    rounds,
    warmup,
    onRound: (r) => {
      if ((r + 1) % 10 === 0) ctx.log(`  ${r + 1}/${rounds} rounds`);
    },
  });
  const [service, migrator, kysely, pg] = rows.map((r) => r.summary) as [Summary, Summary, Summary, Summary];
  const target = (what: string, mig: Summary): TargetCheck => {
    const r = ratio(mig, kysely);
    return {
      target: `library cold start, ${what}: within 1.05x of a process that loads Kysely and pg and runs SELECT 1`,
      met: r <= 1.05,
      detail: `${formatDuration(mig.median)} vs ${formatDuration(kysely.median)} (${formatRatio(r)}${r > 1.05 ? `; ${formatDuration(mig.median - kysely.median * 1.05)} over the goal` : ''})`,
      why: `the ${formatDuration(mig.median - kysely.median)} over the floor is mig's own work before its answer, which the floor does not do: loading mig's packages beside Kysely and pg, ${what.startsWith('@mig/service') ? 'looking for a config file, ' : ''}reading the migrations folder, and its status statement instead of SELECT 1`,
    };
  };
  return {
    id: '4',
    title: 'Cold start: new process to ready',
    unit: 'time from spawn() to ready',
    rows,
    comparisons: [
      { label: '@mig/service / Kysely floor', ratio: ratio(service, kysely) },
      { label: 'createMigrator + status / Kysely floor', ratio: ratio(migrator, kysely) },
      { label: 'Kysely floor / pg alone', ratio: ratio(kysely, pg) },
    ],
    targets: [target('@mig/service createDatabase()', service), target('createMigrator() + status()', migrator)],
    notes: coldNotes(rounds, warmup, breakdown),
    elapsedMs: performance.now() - started,
  };
}

function coldNotes(rounds: number, warmup: number, breakdown: Record<Kind, ReadyMessage[]>): string[] {
  // Interleave runs the warm-up starts first: they are the first `warmup` reports of each kind.
  const median = (values: number[]) => (values.length > 0 ? summarize(values).median : Number.NaN);
  const inside = (kind: Kind) => {
    const measured = breakdown[kind].slice(warmup);
    const imports = formatDuration(median(measured.map((b) => b.importedAt)));
    const work = formatDuration(median(measured.map((b) => b.readyAt - b.importedAt)));
    const statements = measured[0]?.statements ?? 0;
    return `${VARIANTS[kind].label.split(':')[0]}: imports done at ${imports}, then ${work} to ready (${statements} statements)`;
  };
  return [
    `${rounds} starts of each, in alternating order, after ${warmup} warm-up round(s).`,
    `Inside the child (medians, from the process's time origin): ${(Object.keys(VARIANTS) as Kind[]).map(inside).join('; ')}.`,
  ];
}
