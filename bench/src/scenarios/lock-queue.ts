import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DDL_LOCK_TIMEOUT_MS } from '@mig/core';
import pg from 'pg';
import { kyselyMigrateToLatest, kyselyMigrator, migMigrator, migUp } from '../compose.js';
import { countedPool, createDatabase } from '../db.js';
import { formatDuration, formatRatio } from '../format.js';
import { ratio, summarize } from '../stats.js';
import type { Row, ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';

/** How often the application's reader queries the table, ms. */
const READ_EVERY_MS = 20;

type Variant = 'mig' | 'kysely' | 'none';

/**
 * Scenario 12: the lock queue. A report holds a transaction on `accounts` (it read it, and sits idle) while a
 * migration adds a column to it; an application reads the table every 20 ms. The figure is the worst read
 * latency while the migration waits: with Kysely's Migrator the ALTER waits for the whole report and every
 * read queues behind it; mig waits one short attempt at a time (1 s by default) and lets the reads through in
 * between. The floor is the same report and reader with no migration. A fresh database per round and variant,
 * variants interleaved; both tools read the same `.js` migration.
 */
export async function lockQueue(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, holdMs } = ctx.settings.lockQueue;
  const dir = await mkdtemp(join(tmpdir(), 'mig-bench-lock-queue-'));
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await writeFile(
    join(dir, '001_note.js'),
    "export async function up(db) {\n  await db.schema.alterTable('accounts').addColumn('note', 'text').execute();\n}\n",
  );
  const worst: Record<Variant, number[]> = { mig: [], kysely: [], none: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      const order: Variant[] = round % 2 === 0 ? ['mig', 'kysely', 'none'] : ['none', 'kysely', 'mig'];
      for (const variant of order) {
        worst[variant].push(await oneRound(variant, dir, holdMs));
      }
      ctx.log(`    round ${round + 1}/${rounds}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const mig = summarize(worst.mig);
  const kysely = summarize(worst.kysely);
  const floor = summarize(worst.none);
  const rows: Row[] = [
    { label: 'mig up(): worst read while the ALTER waits', tool: 'mig', summary: mig, statements: null },
    {
      label: 'Kysely migrateToLatest(): worst read while the ALTER waits',
      tool: 'kysely',
      summary: kysely,
      statements: null,
    },
    { label: 'no migration: worst read beside the report', tool: 'baseline', summary: floor, statements: null },
  ];
  const bound = 2 * DEFAULT_DDL_LOCK_TIMEOUT_MS;
  const targets: TargetCheck[] = [
    {
      target: `mig: no read waits more than about one attempt (median worst < ${formatDuration(bound)})`,
      met: mig.median < bound,
      detail: `median worst read ${formatDuration(mig.median)} (Kysely ${formatDuration(kysely.median)}, floor ${formatDuration(floor.median)})`,
    },
  ];
  return {
    id: '12',
    title: `the lock queue: worst read while a migration waits behind a ${formatDuration(holdMs)} transaction, beside Kysely's Migrator`,
    unit: 'worst read latency per round',
    rows,
    comparisons: [{ label: 'Kysely / mig, worst read', ratio: ratio(kysely, mig) }],
    targets,
    notes: [
      `Kysely's worst read is ${formatRatio(ratio(kysely, mig))} mig's: it waits for the whole report, and every read queues behind it.`,
      `The report holds its transaction ${formatDuration(holdMs)}; the reader queries every ${READ_EVERY_MS} ms; mig's attempts are ${formatDuration(DEFAULT_DDL_LOCK_TIMEOUT_MS)} (its default).`,
    ],
    elapsedMs: performance.now() - started,
  };
}

/** One round on a fresh database: the report, the reader, and the migration (or none); the reader's worst, ms. */
async function oneRound(variant: Variant, dir: string, holdMs: number): Promise<number> {
  const database = await createDatabase(`lock_queue_${variant}`);
  const conn = countedPool(database.url, 3);
  const report = new pg.Client({ connectionString: database.url, application_name: 'bench-report' });
  const reader = new pg.Client({ connectionString: database.url, application_name: 'bench-reader' });
  try {
    await Promise.all([report.connect(), reader.connect()]);
    await report.query(
      'create table accounts (id int primary key); insert into accounts select generate_series(1, 1000)',
    );
    await report.query('begin');
    await report.query('select count(*) from accounts');
    let reading = true;
    let worstMs = 0;
    const reads = (async () => {
      while (reading) {
        const t = performance.now();
        await reader.query('select count(*) from accounts');
        worstMs = Math.max(worstMs, performance.now() - t);
        await new Promise((r) => setTimeout(r, READ_EVERY_MS));
      }
    })();
    const migrating =
      variant === 'mig'
        ? migUp(migMigrator(conn.db, dir, { url: database.url }))
        : variant === 'kysely'
          ? kyselyMigrateToLatest(kyselyMigrator(conn.db, dir))
          : Promise.resolve(0);
    await new Promise((r) => setTimeout(r, holdMs));
    await report.query('commit');
    await migrating;
    // A few reads after the migration went through.
    await new Promise((r) => setTimeout(r, 5 * READ_EVERY_MS));
    reading = false;
    await reads;
    return worstMs;
  } finally {
    await Promise.allSettled([report.end(), reader.end(), conn.close()]);
    await database.drop();
  }
}
