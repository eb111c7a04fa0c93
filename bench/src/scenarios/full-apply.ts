import { DEFAULT_TABLE } from '@mig/core/adapter';
import { kyselyMigrateToLatest, kyselyMigrator, migMigrator, migUp } from '../compose.js';
import { APPLY_COUNT } from '../config.js';
import { countedPool, createDatabase, preloadedLibraries } from '../db.js';
import { DRIZZLE_TABLE, drizzleFolder, drizzleMigrate } from '../drizzle.js';
import { formatDuration, formatRatio, formatStatements } from '../format.js';
import { interleave, timeOnce } from '../measure.js';
import { writeMigrationFolder } from '../migrations.js';
import { psql, psqlScript } from '../psql.js';
import { ratio, type Summary } from '../stats.js';
import type { ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';

type Variant = 'migJs' | 'migSql' | 'migAll' | 'kysely' | 'drizzle';
/**
 * The floors: psql applying the .sql files, each in its own transaction or all in one, and psql doing
 * nothing (its start).
 */
type Floor = 'psql' | 'psqlAll' | 'psqlStart';

const LABELS: Record<Variant, string> = {
  migJs: `mig migrator.up(): ${APPLY_COUNT} .js migrations`,
  migSql: `mig migrator.up(): the same ${APPLY_COUNT} as .sql files`,
  migAll: `mig migrator.up({ transaction: 'all' }): the ${APPLY_COUNT} .sql files in one transaction`,
  kysely: `Kysely migrateToLatest(): ${APPLY_COUNT} .js migrations`,
  drizzle: `Drizzle migrate(): the ${APPLY_COUNT} .sql files' up parts, drizzle-kit's layout (one transaction)`,
};

const FLOOR_LABELS: Record<Floor, string> = {
  psql: `psql -f: the ${APPLY_COUNT} .sql files, each in its own transaction, one session (records nothing)`,
  psqlAll: `psql -f: the ${APPLY_COUNT} .sql files in one transaction, one session (records nothing)`,
  psqlStart: "psql -c 'select 1': a psql process's own start and end, taken off the lines above",
};

/** The tool each variant is (for the report). */
const TOOLS: Record<Variant, 'mig' | 'kysely' | 'drizzle'> = {
  migJs: 'mig',
  migSql: 'mig',
  migAll: 'mig',
  kysely: 'kysely',
  drizzle: 'drizzle',
};

/** The goal: per migration, mig at most this much of psql's. */
const PSQL_GOAL = 1.2;

/** Runs psql with `args` on a fresh database, timed from spawn() to exit; the database is made and dropped outside. */
async function psqlOnce(floor: Floor, args: readonly string[]): Promise<number> {
  const database = await createDatabase(`apply_${floor}`);
  try {
    return await timeOnce(() => psql(database.url, args));
  } finally {
    await database.drop();
  }
}

/** What one applying run sent and how many transactions wrote the records. */
interface Counts {
  readonly statements: number;
  readonly roundTrips: number;
  readonly transactions: number;
}

/**
 * Applies `folder` to a fresh database with `variant`, timed from the call to its end on a pool with one
 * connection already open; counts what its pg clients sent, and, from the records' `xmin`, how many
 * transactions wrote them. The database is created and dropped outside the timing.
 */
async function applyOnce(variant: Variant, folder: Folder): Promise<{ ms: number; counts: Counts }> {
  const database = await createDatabase(`apply_${variant.toLowerCase()}`);
  const conn = countedPool(database.url, 4);
  try {
    await conn.warm(1);
    const [statements, trips] = [conn.counter.count, conn.counter.roundTrips];
    let applied = 0;
    const ms = await timeOnce(async () => {
      if (variant === 'kysely') applied = await kyselyMigrateToLatest(kyselyMigrator(conn.db, folder.dir));
      else if (variant === 'drizzle') applied = await drizzleMigrate(conn.pool, folder.dir);
      else {
        const transaction = variant === 'migAll' ? 'all' : 'each';
        applied = await migUp(migMigrator(conn.db, folder.dir, { url: database.url, transaction }));
      }
    });
    const counts = { statements: conn.counter.count - statements, roundTrips: conn.counter.roundTrips - trips };
    if (applied !== folder.count) {
      throw new Error(`${LABELS[variant]} applied ${applied} of ${folder.count} migrations`);
    }
    const table = variant === 'kysely' ? 'kysely_migration' : variant === 'drizzle' ? DRIZZLE_TABLE : DEFAULT_TABLE;
    const { rows } = await conn.pool.query<{ n: number }>(`select count(distinct xmin::text)::int as n from ${table}`);
    return { ms, counts: { ...counts, transactions: rows[0]?.n ?? 0 } };
  } finally {
    await conn.close();
    await database.drop();
  }
}

/** A folder one variant reads, and how many migrations it holds. */
interface Folder {
  readonly dir: string;
  readonly count: number;
}

/** Per migration, what one more migration adds: (a run of all) − (a run of the first alone), over the rest. */
function marginal(all: Counts, first: Counts, count: number): { statements: number; roundTrips: number } {
  return {
    statements: (all.statements - first.statements) / (count - 1),
    roundTrips: (all.roundTrips - first.roundTrips) / (count - 1),
  };
}

/**
 * Scenario 5: applying the 50 migrations (each creates a table and writes an audit row) to an empty
 * database: mig with the very files Kysely reads (.js modules), mig with the same migrations as .sql files
 * (the one-round-trip path), and Kysely's Migrator; each run on a database of its own.
 */
export async function fullApply(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, warmup } = ctx.settings.fullApply;
  const sqlFolder = await writeMigrationFolder(APPLY_COUNT, 'sql');
  const firstOnly = { js: await writeMigrationFolder(1, 'table'), sql: await writeMigrationFolder(1, 'sql') };
  const drizzleDirs = { all: await drizzleFolder(sqlFolder), first: await drizzleFolder(firstOnly.sql) };
  const of_ = (dir: string, count: number): Folder => ({ dir, count });
  const folders: Record<Variant, Folder> = {
    migJs: of_(ctx.ready.folder.dir, APPLY_COUNT),
    migSql: of_(sqlFolder.dir, APPLY_COUNT),
    migAll: of_(sqlFolder.dir, APPLY_COUNT),
    kysely: of_(ctx.ready.folder.dir, APPLY_COUNT),
    drizzle: of_(drizzleDirs.all.dir, APPLY_COUNT),
  };
  const scripts = { each: await psqlScript(sqlFolder, 'each'), all: await psqlScript(sqlFolder, 'all') };
  try {
    const totals: Record<Variant, Counts[]> = { migJs: [], migSql: [], migAll: [], kysely: [], drizzle: [] };
    const variants = (Object.keys(LABELS) as Variant[]).map((variant) => ({
      label: LABELS[variant],
      tool: TOOLS[variant],
      round: async () => {
        const { ms, counts } = await applyOnce(variant, folders[variant]);
        totals[variant].push(counts);
        return [ms];
      },
      statements: () => totals[variant].reduce((n, c) => n + c.statements, 0),
      roundTrips: () => totals[variant].reduce((n, c) => n + c.roundTrips, 0),
    }));
    const floors = (Object.keys(FLOOR_LABELS) as Floor[]).map((floor) => ({
      label: FLOOR_LABELS[floor],
      tool: 'baseline' as const,
      round: async () => [await psqlOnce(floor, floorArgs(floor, scripts))],
    }));
    const rows = await interleave([...variants, ...floors], {
      rounds,
      warmup,
      onRound: (r) => ctx.log(`  round ${r + 1}/${rounds}`),
    });
    const first: Record<Variant, Counts> = {
      migJs: (await applyOnce('migJs', of_(firstOnly.js.dir, 1))).counts,
      migSql: (await applyOnce('migSql', of_(firstOnly.sql.dir, 1))).counts,
      migAll: (await applyOnce('migAll', of_(firstOnly.sql.dir, 1))).counts,
      kysely: (await applyOnce('kysely', of_(firstOnly.js.dir, 1))).counts,
      drizzle: (await applyOnce('drizzle', of_(drizzleDirs.first.dir, 1))).counts,
    };
    const summaries = Object.fromEntries(rows.map((r) => [r.label, r.summary]));
    const of = (v: Variant) => summaries[LABELS[v]] as Summary;
    const floorPer = (floor: Floor) =>
      ((summaries[FLOOR_LABELS[floor]] as Summary).median - (summaries[FLOOR_LABELS.psqlStart] as Summary).median) /
      APPLY_COUNT;
    const psqlPer = floorPer('psql');
    const last = (v: Variant) => totals[v][totals[v].length - 1] as Counts;
    const per = (v: Variant) => ({ ms: of(v).median / APPLY_COUNT, ...marginal(last(v), first[v], APPLY_COUNT) });
    return {
      id: '5',
      title: `Full apply of ${APPLY_COUNT} migrations to an empty database`,
      unit: 'time per full run',
      rows,
      comparisons: [
        { label: 'mig (.js) / Kysely', ratio: ratio(of('migJs'), of('kysely')) },
        { label: 'mig (.sql) / Kysely', ratio: ratio(of('migSql'), of('kysely')) },
        { label: 'mig (.sql) / psql, per migration', ratio: per('migSql').ms / psqlPer },
        { label: "mig (transaction: 'all') / Drizzle", ratio: ratio(of('migAll'), of('drizzle')) },
        {
          label: "mig (transaction: 'all') / psql in one transaction, per migration",
          ratio: per('migAll').ms / floorPer('psqlAll'),
        },
      ],
      targets: [
        psqlTarget(per('migSql'), psqlPer, per('kysely').ms),
        ...applyTargets(
          { migJs: per('migJs'), migSql: per('migSql'), migAll: per('migAll'), kysely: per('kysely') },
          last,
        ),
        ...allTargets(per('migAll'), per('drizzle'), last),
      ],
      notes: [
        ...applyNotes(rounds, warmup, per, last, await preloadedLibraries()),
        `The floor: psql -X -f on a fresh database with the ${APPLY_COUNT} .sql files' up parts, each between BEGIN and COMMIT, in one session (${formatDuration(psqlPer)} per migration: the median run less the median of a psql process that only runs select 1, over ${APPLY_COUNT}). mig's figure also holds what psql does not do: reading the folder, checksums, its lock, creating its tables, the record and head of each migration.`,
      ],
      elapsedMs: performance.now() - started,
    };
  } finally {
    await Promise.all([scripts.each.dispose(), scripts.all.dispose()]);
    await Promise.all([drizzleDirs.all.dispose(), drizzleDirs.first.dispose()]);
    await sqlFolder.dispose();
    await firstOnly.js.dispose();
    await firstOnly.sql.dispose();
  }
}

type PerMigration = { ms: number; statements: number; roundTrips: number };

/** psql's arguments for a floor: one of the scripts, or a process that only runs select 1. */
function floorArgs(floor: Floor, scripts: Record<'each' | 'all', { readonly path: string }>): string[] {
  if (floor === 'psqlStart') return ['-c', 'select 1'];
  return ['-f', (floor === 'psql' ? scripts.each : scripts.all).path];
}

/** `transaction: 'all'`: at most Drizzle's time per migration, and one transaction for every record. */
function allTargets(mig: PerMigration, drizzle: PerMigration, last: (v: Variant) => Counts): TargetCheck[] {
  const r = mig.ms / drizzle.ms;
  return [
    {
      target:
        "full apply, transaction: 'all': time per migration at most Drizzle's (its migrate() also runs all in one transaction)",
      met: r <= 1,
      detail: `mig ${formatDuration(mig.ms)} vs Drizzle ${formatDuration(drizzle.ms)} per migration (${formatRatio(r)}); round trips per migration: mig ${formatStatements(mig.roundTrips)}, Drizzle ${formatStatements(drizzle.roundTrips)}`,
      why: `statements per migration: mig ${formatStatements(mig.statements)}, Drizzle ${formatStatements(drizzle.statements)}; Drizzle writes a record and nothing else, mig also moves the head (the digest the one-statement status check reads) with each record`,
    },
    {
      target: "full apply, transaction: 'all': every migration and its record in one transaction",
      kind: 'correctness',
      met: last('migAll').transactions === 1,
      detail: `${last('migAll').transactions} distinct transaction(s) wrote the ${APPLY_COUNT} records (Drizzle: ${last('drizzle').transactions})`,
    },
  ];
}

function psqlTarget(mig: PerMigration, floor: number, kysely: number): TargetCheck {
  const r = mig.ms / floor;
  return {
    target: `full apply, .sql migrations: time per migration at most ${PSQL_GOAL}x of psql applying each file in its own transaction in one session`,
    met: r <= PSQL_GOAL,
    detail: `mig ${formatDuration(mig.ms)} vs psql ${formatDuration(floor)} per migration (${formatRatio(r)}); Kysely's Migrator (.js) ${formatDuration(kysely)}`,
    why: `mig sends each migration in one round trip as psql does, but with ${formatStatements(mig.statements)} statements where psql sends the file's own and BEGIN and COMMIT: four of them are mig's (the head locked and compared, the lock's fence checked, the record written, the head moved, all in the migration's transaction), and they are the ${formatDuration(mig.ms - floor)} per migration over psql`,
  };
}

function applyTargets(
  per: Record<'migJs' | 'migSql' | 'migAll' | 'kysely', PerMigration>,
  last: (v: Variant) => Counts,
): TargetCheck[] {
  const k = per.kysely;
  const vsKysely = (v: 'migJs' | 'migSql', what: string): TargetCheck => {
    const r = per[v].ms / k.ms;
    return {
      target: `full apply, ${what}: time per migration at most Kysely's (each migration committed with its record; Kysely commits once for all)`,
      met: r <= 1,
      detail: `mig ${formatDuration(per[v].ms)} vs Kysely ${formatDuration(k.ms)} per migration (${formatRatio(r)}${r > 1 ? `, ${Math.round((r - 1) * 100)} % over` : ''})`,
      why: `Kysely commits the ${APPLY_COUNT} migrations in one transaction (${last('kysely').transactions} here), mig each with its record (${last(v).transactions}), so a failure leaves every earlier migration applied and recorded; in one transaction as Kysely (transaction: 'all'), mig takes ${formatDuration(per.migAll.ms)} per migration${v === 'migJs' ? `, and a .js migration costs ${formatStatements(per.migJs.roundTrips)} round trips against a .sql file's ${formatStatements(per.migSql.roundTrips)} (Kysely: ${formatStatements(k.roundTrips)})` : ''}`,
    };
  };
  const transactions = (v: Variant): TargetCheck => ({
    target: `full apply, ${v === 'migSql' ? '.sql' : '.js'}: one transaction per migration, committed with its record`,
    kind: 'correctness',
    met: last(v).transactions === APPLY_COUNT,
    detail: `${last(v).transactions} distinct transactions wrote the ${APPLY_COUNT} records (Kysely: ${last('kysely').transactions} for all)`,
  });
  return [
    vsKysely('migSql', '.sql migrations'),
    vsKysely('migJs', '.js migrations'),
    {
      target: 'full apply, .sql migrations: one round trip per migration',
      met: per.migSql.roundTrips <= 1,
      detail: `${formatStatements(per.migSql.roundTrips)} round trips and ${formatStatements(per.migSql.statements)} statements per .sql migration; .js: ${formatStatements(per.migJs.roundTrips)} and ${formatStatements(per.migJs.statements)}; Kysely: ${formatStatements(k.roundTrips)} and ${formatStatements(k.statements)}`,
    },
    transactions('migSql'),
    transactions('migJs'),
  ];
}

function applyNotes(
  rounds: number,
  warmup: number,
  per: (v: Variant) => PerMigration,
  last: (v: Variant) => Counts,
  preloaded: string,
): string[] {
  const server = preloaded.includes('pg_stat_statements')
    ? 'pg_stat_statements is loaded on this server but not used, so that other sessions on it do not enter the count.'
    : `pg_stat_statements is not loaded on this server (shared_preload_libraries is "${preloaded}"), so the server cannot count them.`;
  const line = (v: Variant, name: string) =>
    `${name} ${formatDuration(per(v).ms)}, ${formatStatements(per(v).statements)} statements in ${formatStatements(per(v).roundTrips)} round trips`;
  return [
    `${rounds} runs of each on fresh databases, alternating, after ${warmup} warm-up run(s) of each (which also load the migration modules once).`,
    `Per migration: ${line('migSql', 'mig .sql')}; ${line('migJs', 'mig .js')}; ${line('kysely', 'Kysely')}. Times are the median run over ${APPLY_COUNT}; statements and round trips are what one more migration adds, counted: a run of all ${APPLY_COUNT} minus a run of the first alone, over the other ${APPLY_COUNT - 1}. The .js migrations send two statements of their own (create table, insert).`,
    `Counting: every pg client of the pool has its query() wrapped in this process; each call is one round trip, and its text is split into its top-level statements (a DO block is one statement, BEGIN and COMMIT count). ${server}`,
    `Transactions: the distinct xmin of the record rows after the last run: mig ${last('migSql').transactions} (.sql) and ${last('migJs').transactions} (.js), Kysely ${last('kysely').transactions}; Kysely runs the whole batch in one transaction, mig commits each migration with its record.`,
  ];
}
