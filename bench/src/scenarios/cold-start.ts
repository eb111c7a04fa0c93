import { childScript, startChild } from '../children.js';
import { formatDuration, formatRatio } from '../format.js';
import { interleave } from '../measure.js';
import { ratio, type Summary, summarize } from '../stats.js';
import type { ScenarioResult } from '../types.js';
import type { BenchContext } from './context.js';

type Kind = 'mig' | 'pg' | 'kysely';

interface ReadyMessage {
  readonly importedAt: number;
  readonly readyAt: number;
  readonly statements: number;
  readonly migrations?: string;
}

/**
 * Scenario 4: a new Node process from `spawn()` to ready, on an up-to-date database (the 100 migrations
 * applied). mig: the database service with autoMigrate on, composed as an application does (createPgDialect
 * pool, folder source, advisory lock, @mig/cache), until `ensureInitialized()` resolves. Baseline: a process
 * that imports pg, connects and runs SELECT 1; and, for reference, one that does it through Kysely, which
 * an application using mig loads anyway. Timed in the parent, from just before spawn() to the moment
 * the child's "ready" line arrives; the processes alternate.
 */
export async function coldStart(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, warmup } = ctx.settings.coldStart;
  const { url } = ctx.ready.database;
  const breakdown = { mig: [] as ReadyMessage[], pg: [] as ReadyMessage[], kysely: [] as ReadyMessage[] };
  const start = async (kind: Kind): Promise<number[]> => {
    const args = kind === 'mig' ? ['--url', url, '--dir', ctx.ready.folder.dir] : ['--url', url];
    const child = startChild(childScript(`cold-start-${kind}`), args, 60_000);
    const ready = await child.message('ready');
    await child.exited;
    const data = ready.data as unknown as ReadyMessage;
    if (kind === 'mig' && data.migrations !== 'up-to-date') {
      throw new Error(`the cold-start service found "${data.migrations}", not an up-to-date database`);
    }
    breakdown[kind].push(data);
    return [ready.at - child.spawnedAt];
  };
  const statements = (kind: Kind) => () => breakdown[kind].reduce((n, b) => n + b.statements, 0);
  const rows = await interleave(
    [
      {
        label: 'mig: spawn → service ready (autoMigrate, up to date)',
        tool: 'mig',
        round: () => start('mig'),
        statements: statements('mig'),
      },
      {
        label: 'baseline: spawn → pg connect + SELECT 1',
        tool: 'baseline',
        round: () => start('pg'),
        statements: statements('pg'),
      },
      {
        label: 'reference: spawn → Kysely (pg pool) + SELECT 1',
        tool: 'baseline',
        round: () => start('kysely'),
        statements: statements('kysely'),
      },
    ],
    {
      rounds,
      warmup,
      onRound: (r) => {
        if ((r + 1) % 10 === 0) ctx.log(`  ${r + 1}/${rounds} pairs`);
      },
    },
  );
  const [mig, pg, kysely] = rows.map((r) => r.summary) as [Summary, Summary, Summary];
  const r = ratio(mig, pg);
  // Interleave runs the warm-up starts first: they are the first `warmup` reports of each kind.
  const median = (values: number[]) => (values.length > 0 ? summarize(values).median : Number.NaN);
  const inside = (kind: Kind) => {
    const measured = breakdown[kind].slice(warmup);
    return {
      imports: median(measured.map((b) => b.importedAt)),
      work: median(measured.map((b) => b.readyAt - b.importedAt)),
    };
  };
  const [inMig, inPg, inKysely] = [inside('mig'), inside('pg'), inside('kysely')];
  return {
    id: '4',
    title: 'Cold start: new process to ready',
    unit: 'time from spawn() to ready',
    rows,
    comparisons: [
      { label: 'mig / pg baseline', ratio: r },
      { label: 'mig / Kysely reference', ratio: ratio(mig, kysely) },
    ],
    targets: [
      {
        target: 'cold start within 1.2x of a process that only connects and runs SELECT 1',
        met: r <= 1.2,
        detail: `mig ${formatDuration(mig.median)} vs ${formatDuration(pg.median)} (${formatRatio(r)})`,
      },
    ],
    notes: [
      `${rounds} starts of each, alternating, after ${warmup} warm-up pair(s).`,
      `Inside the child (medians, from the process's time origin): Node start + module imports ${formatDuration(inMig.imports)} for mig, ${formatDuration(inKysely.imports)} for Kysely + pg, ${formatDuration(inPg.imports)} for pg alone; then connect + check ${formatDuration(inMig.work)} for mig (service built, folder read, connect probe, status), ${formatDuration(inKysely.work)} for Kysely's SELECT 1, ${formatDuration(inPg.work)} for pg's.`,
      "mig's statements: the service's connect probe (select 1, as the core README's example does) and the status check (one read of the head row).",
    ],
    elapsedMs: performance.now() - started,
  };
}
