import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childScript } from '../children.js';
import { formatDuration, formatRatio } from '../format.js';
import { interleave, type Variant } from '../measure.js';
import { ratio, type Summary } from '../stats.js';
import type { ScenarioResult } from '../types.js';
import type { BenchContext } from './context.js';

/** The built mig command: one bundled file. */
export const MIG_BIN = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));

/**
 * Runs `node <script> ...args` in `cwd` and resolves with the time from just before spawn() to its exit;
 * rejects on a non-zero exit, with its output.
 */
function timeProcess(script: string, args: readonly string[], cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else
        reject(
          new Error(`${script} ${args.join(' ')} exited with ${signal ?? `code ${code}`}:\n${output.slice(-2000)}`),
        );
    });
  });
}

/**
 * Scenario 10: `mig status` as a whole process (the built CLI), from spawn() to exit, on the up-to-date
 * database, against the floor of a process that imports pg, connects, runs SELECT 1 and exits; and, for
 * reference, a process that asks Kysely's Migrator for the same list. Every process runs in the migrations
 * folder, so no config file of the workspace is found.
 */
export async function cliStatus(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, warmup } = ctx.settings.cliStatus;
  const { url } = ctx.ready.database;
  const { dir } = ctx.ready.folder;
  const variants: Variant[] = [
    {
      label: 'mig status (packages/cli/dist/bin.js): spawn → exit',
      tool: 'mig',
      round: async () => [await timeProcess(MIG_BIN, ['status', '--url', url, '--migrations', dir], dir)],
    },
    {
      label: 'floor: node + pg, connect, SELECT 1: spawn → exit',
      tool: 'baseline',
      round: async () => [await timeProcess(childScript('cold-start-pg'), ['--url', url], dir)],
    },
    {
      label: "Kysely's Migrator getMigrations(), printed: spawn → exit",
      tool: 'kysely',
      round: async () => [await timeProcess(childScript('status-kysely'), ['--url', url, '--dir', dir], dir)],
    },
  ];
  const rows = await interleave(variants, {
    rounds,
    warmup,
    onRound: (r) => {
      if ((r + 1) % 10 === 0) ctx.log(`  ${r + 1}/${rounds} rounds`);
    },
  });
  const [mig, floor, kysely] = rows.map((r) => r.summary) as [Summary, Summary, Summary];
  const r = ratio(mig, floor);
  return {
    id: '10',
    title: '`mig status` as a whole process',
    unit: 'time from spawn() to exit',
    rows,
    comparisons: [
      { label: 'mig status / floor', ratio: r },
      { label: "mig status / Kysely's Migrator", ratio: ratio(mig, kysely) },
    ],
    targets: [
      {
        target: '`mig status` as a process within 1.5x of node + pg + connect + SELECT 1 as a process',
        met: r <= 1.5,
        detail: `${formatDuration(mig.median)} vs ${formatDuration(floor.median)} (${formatRatio(r)}${r > 1.5 ? `; ${formatDuration(mig.median - floor.median * 1.5)} over the goal` : ''}); Kysely's Migrator as a process ${formatDuration(kysely.median)}`,
      },
    ],
    notes: [
      `${rounds} runs of each, in alternating order, after ${warmup} warm-up round(s); on the up-to-date database of ${ctx.ready.folder.migrations.length} migrations, each process started in the migrations folder.`,
    ],
    elapsedMs: performance.now() - started,
  };
}
