import { migMigrator, migUp } from '../compose.js';
import { countedPool, createDatabase } from '../db.js';
import { formatDuration, formatRatio } from '../format.js';
import { interleave, timeOnce } from '../measure.js';
import { type MigrationFolder, writeMigrationFolder } from '../migrations.js';
import { psql, psqlScript } from '../psql.js';
import type { Summary } from '../stats.js';
import type { ScenarioResult } from '../types.js';
import type { BenchContext } from './context.js';

/** The goal for 10,000 migrations applied to an empty database. */
const GOAL_MS = 10_000;

/** mig applies `folder` to a fresh database (a warm pool, the migrator built inside the timing), then checks it. */
async function migOnce(folder: MigrationFolder, checks: number[]): Promise<number> {
  const database = await createDatabase('long_mig');
  const conn = countedPool(database.url, 2);
  try {
    await conn.warm(1);
    let applied = 0;
    const ms = await timeOnce(async () => {
      applied = await migUp(migMigrator(conn.db, folder.dir, { url: database.url }));
    });
    if (applied !== folder.migrations.length) throw new Error(`mig applied ${applied} of ${folder.migrations.length}`);
    // The no-op check on top: what every later start asks (a fresh migrator, so nothing is cached).
    const migrator = migMigrator(conn.db, folder.dir, { url: database.url });
    checks.push(await timeOnce(() => migrator.status()));
    return ms;
  } finally {
    await conn.close();
    await database.drop();
  }
}

async function psqlOnce(args: readonly string[]): Promise<number> {
  const database = await createDatabase('long_psql');
  try {
    return await timeOnce(() => psql(database.url, args));
  } finally {
    await database.drop();
  }
}

/**
 * Scenario 13: a long history, 10,000 `.sql` migrations (1,000 in quick mode) that each insert one row,
 * applied to an empty database by mig and by psql (each file in its own transaction, one session), then
 * mig's no-op check on top of them.
 */
export async function longHistory(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { count, rounds } = ctx.settings.longHistory;
  ctx.log(`  writing ${count} migrations`);
  const folder = await writeMigrationFolder(count, 'sql-audit');
  const script = await psqlScript(folder, 'each');
  try {
    const checks: number[] = [];
    const labels = {
      mig: `mig migrator.up(): ${count} .sql migrations to an empty database`,
      psql: `psql -f: the same ${count} files, each in its own transaction, one session (records nothing)`,
      start: "psql -c 'select 1': a psql process's own start and end",
    };
    const rows = await interleave(
      [
        { label: labels.mig, tool: 'mig', round: async () => [await migOnce(folder, checks)] },
        { label: labels.psql, tool: 'baseline', round: async () => [await psqlOnce(['-f', script.path])] },
        { label: labels.start, tool: 'baseline', round: async () => [await psqlOnce(['-c', 'select 1'])] },
      ],
      { rounds, warmup: 0, onRound: (r) => ctx.log(`  round ${r + 1}/${rounds}`) },
    );
    const of = (label: string) => {
      const row = rows.find((r) => r.label === label);
      if (row === undefined) throw new Error(`no row labelled "${label}"`);
      return (row.summary as Summary).median;
    };
    const mig = of(labels.mig);
    const floor = of(labels.psql) - of(labels.start);
    const check = [...checks].sort((a, b) => a - b)[checks.length >> 1] ?? Number.NaN;
    return {
      id: '13',
      title: `${count} migrations applied to an empty database`,
      unit: 'time per full run',
      rows,
      comparisons: [{ label: 'mig / psql (its start taken off)', ratio: mig / floor }],
      targets: [
        {
          target: `${count} migrations applied to an empty PostgreSQL database in under ${formatDuration((GOAL_MS * count) / 10_000)}${count === 10_000 ? '' : ' (10 s for 10,000, scaled)'}`,
          met: mig < (GOAL_MS * count) / 10_000,
          detail: `mig ${formatDuration(mig)} (${formatDuration(mig / count)} per migration) vs psql ${formatDuration(floor)} (${formatRatio(mig / floor)}); the no-op check on top of them ${formatDuration(check)}`,
        },
      ],
      notes: [
        `${rounds} round(s), each on fresh databases, the order flipping every round. Each migration inserts one row; the first creates the table. psql's own process start (the median of a psql that runs select 1) is taken off its figure. The no-op check is a fresh migrator's status() on the database mig just migrated: median ${formatDuration(check)} over ${checks.length} run(s).`,
        'Published for comparison (another machine, other migrations): lukaszbudnik/migrator applied 10,000 migrations in 31 s, Flyway in 540 s, Liquibase in 298 s.',
      ],
      elapsedMs: performance.now() - started,
    };
  } finally {
    await script.dispose();
    await folder.dispose();
  }
}
