// `pnpm bench` (full) and `pnpm bench --quick`: runs the scenarios, prints a summary, writes results/*.json
// and, after a full run, the chart and the README's results block. `--only 3,7` runs some scenarios (the
// results then go to results/partial.tmp.json and the README is left alone).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { migMigrator, migUp } from './compose.js';
import { APPLY_COUNT, settingsFor } from './config.js';
import { countedPool, createDatabase, dropAllCreated } from './db.js';
import { formatDuration } from './format.js';
import { describeMachine } from './machine.js';
import { disposeAllFolders, writeMigrationFolder } from './migrations.js';
import { README, RESULTS_DIR } from './paths.js';
import { statusCheckChart } from './report/charts.js';
import { consoleSummary } from './report/console.js';
import { markdownResults } from './report/markdown.js';
import { updateReadme } from './report/readme.js';
import { cliStatus } from './scenarios/cli-status.js';
import { coldStart } from './scenarios/cold-start.js';
import type { BenchContext } from './scenarios/context.js';
import { enginesScenario } from './scenarios/engines.js';
import { fastPath } from './scenarios/fast-path.js';
import { fullApply } from './scenarios/full-apply.js';
import { lockScenario } from './scenarios/lock.js';
import { lockQueue } from './scenarios/lock-queue.js';
import { longHistory } from './scenarios/long-history.js';
import { poolerScenario } from './scenarios/pooler.js';
import { raceScenario } from './scenarios/race.js';
import { statusCache } from './scenarios/status-cache.js';
import { statusCheck } from './scenarios/status-check.js';
import { tenantsScenario } from './scenarios/tenants.js';
import { warmInit } from './scenarios/warm-init.js';
import type { BenchReport, Mode, ScenarioResult } from './types.js';
import { runFailures } from './verdict.js';

const SCENARIOS: readonly { id: string; title: string; run: (ctx: BenchContext) => Promise<ScenarioResult> }[] = [
  { id: '1', title: 'ready ensureInitialized() per call', run: fastPath },
  { id: '2', title: 'cached status check per call', run: statusCache },
  { id: '3', title: 'uncached no-op check vs Kysely vs SELECT 1', run: statusCheck },
  { id: '4', title: 'cold start', run: coldStart },
  { id: '10', title: '`mig status` as a whole process', run: cliStatus },
  { id: '5', title: `full apply of ${APPLY_COUNT} migrations`, run: fullApply },
  { id: '6', title: `processes racing on an empty database, ${APPLY_COUNT} migrations`, run: raceScenario },
  { id: '7', title: 'migration lock', run: lockScenario },
  { id: '8', title: 'service initialization on a warm connection', run: warmInit },
  { id: '9', title: 'instances through PgBouncer: lease race vs status checks', run: poolerScenario },
  {
    id: '11',
    title: `MariaDB and SQLite: no-op check, full apply and race, ${APPLY_COUNT} migrations`,
    run: enginesScenario,
  },
  { id: '12', title: 'the lock queue: worst read while a migration waits behind a long transaction', run: lockQueue },
  { id: '13', title: 'a long history: 10,000 migrations applied, and the check on top', run: longHistory },
  { id: '14', title: 'a schema per tenant: mig up --tenants beside psql, and 10,000 tenants', run: tenantsScenario },
];

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, rerun: { type: 'string' } },
});
const mode: Mode = values.quick ? 'quick' : 'full';
// --rerun 9,11: those scenarios again, their results put in place of the last full run's (which says so).
const rerun = values.rerun !== undefined;
const only = (values.rerun ?? values.only)?.split(',').map((s) => s.trim());
const log = (message: string) => process.stderr.write(`${message}\n`);

// Ctrl-C must not leave databases or generated folders behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: dropping the bench's databases and removing its folders`);
    void Promise.allSettled([dropAllCreated(), disposeAllFolders()]).finally(() => process.exit(130));
  });
}

/**
 * A stuck scenario (a lock never granted, a pool that deadlocks) must fail the run, not hang CI: after this
 * long the bench cleans up and exits with an error.
 */
const WATCHDOG_MS = mode === 'quick' ? 5 * 60_000 : 30 * 60_000;
setTimeout(() => {
  log(`\nThe bench ran longer than ${formatDuration(WATCHDOG_MS)}: something is stuck. Cleaning up.`);
  void Promise.allSettled([dropAllCreated(), disposeAllFolders()]).finally(() => process.exit(1));
}, WATCHDOG_MS).unref();

async function main(): Promise<number> {
  const started = performance.now();
  const date = new Date().toISOString();
  if (rerun && mode !== 'full') throw new Error('--rerun replaces scenarios of the last full run: leave out --quick');
  log(`mig bench, ${mode} mode${only ? ` (scenarios ${only.join(', ')})` : ''}`);
  const folder = await writeMigrationFolder(APPLY_COUNT, 'table');
  const database = await createDatabase('ready');
  const scenarios: ScenarioResult[] = [];
  try {
    log(`setup: mig applies the ${APPLY_COUNT} migrations the up-to-date scenarios share`);
    const conn = countedPool(database.url, 2);
    try {
      await migUp(migMigrator(conn.db, folder.dir, { url: database.url }));
    } finally {
      await conn.close();
    }
    const ctx: BenchContext = { mode, settings: settingsFor(mode), log, ready: { folder, database } };
    for (const scenario of SCENARIOS) {
      if (only && !only.includes(scenario.id)) continue;
      log(`\n${scenario.id}. ${scenario.title}`);
      const t = performance.now();
      try {
        scenarios.push(await scenario.run(ctx));
      } catch (error) {
        // One broken scenario must not throw away the others' figures; the run still fails at the end.
        log(`   failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        scenarios.push(failedScenario(scenario.id, scenario.title, error, performance.now() - t));
      }
      log(`   (${formatDuration(performance.now() - t)})`);
    }
  } finally {
    await database.drop().catch(() => {});
    await folder.dispose();
    await dropAllCreated();
  }

  const machine = await describeMachine();
  const report: BenchReport = rerun
    ? await replaceInLastRun(scenarios, date, machine.loadAverage)
    : { mode, date, elapsedMs: performance.now() - started, machine, scenarios };
  await mkdir(RESULTS_DIR, { recursive: true });
  const name = only && !rerun ? 'partial.tmp.json' : mode === 'quick' ? 'latest-quick.json' : 'latest.json';
  await writeFile(join(RESULTS_DIR, name), `${JSON.stringify(report, null, 2)}\n`);
  log(`\nwrote results/${name}`);
  if (mode === 'full' && (!only || rerun)) {
    const svg = statusCheckChart(report);
    const chartFile = svg ? 'results/status-check.svg' : undefined;
    if (svg) await writeFile(join(RESULTS_DIR, 'status-check.svg'), svg);
    await updateReadme(README, markdownResults(report, chartFile));
    log('wrote results/status-check.svg and the README results block');
  }
  process.stdout.write(consoleSummary(report));
  // Timing targets are informational; a scenario that broke or a correctness check that failed is not.
  const failures = runFailures(report);
  for (const failure of failures) log(`FAILED ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

/** The last full run with these scenarios' new results in place of theirs, and the rerun noted. */
async function replaceInLastRun(
  fresh: readonly ScenarioResult[],
  date: string,
  loadAverage: readonly number[],
): Promise<BenchReport> {
  const last = JSON.parse(await readFile(join(RESULTS_DIR, 'latest.json'), 'utf8')) as BenchReport;
  const byId = new Map(fresh.map((s) => [s.id, s]));
  return {
    ...last,
    scenarios: last.scenarios.map((s) => byId.get(s.id) ?? s),
    reruns: [
      ...(last.reruns ?? []).filter((r) => !byId.has(r.id)),
      ...fresh.map((s) => ({ id: s.id, date, loadAverage })),
    ],
  };
}

function failedScenario(id: string, title: string, error: unknown, elapsedMs: number): ScenarioResult {
  const message = error instanceof Error ? error.message : String(error);
  return {
    id,
    title,
    unit: 'failed',
    rows: [],
    comparisons: [],
    targets: [{ target: 'the scenario ran to completion', met: false, detail: message.split('\n')[0] ?? message }],
    notes: [message],
    elapsedMs,
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    await Promise.allSettled([dropAllCreated(), disposeAllFolders()]);
    process.exitCode = 1;
  },
);
