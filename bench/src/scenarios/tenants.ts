import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { childScript, startChild } from '../children.js';
import { createDatabase } from '../db.js';
import { formatDuration, formatRatio } from '../format.js';
import { interleave } from '../measure.js';
import { type MigrationFolder, writeMigrationFolder } from '../migrations.js';
import { psql } from '../psql.js';
import { ratio, type Summary, summarize } from '../stats.js';
import type { Row, ScenarioResult, TargetCheck } from '../types.js';
import { MIG_BIN } from './cli-status.js';
import type { BenchContext } from './context.js';

/** The goal: `mig up --tenants` at most this much of one psql session applying the same files to each schema. */
const PSQL_GOAL = 2;
const PATTERN = 'tenant_%';
const schemaOf = (i: number) => `tenant_t${String(i).padStart(5, '0')}`;

/** Runs `node script ...args` in `cwd`; resolves with the time from spawn() to exit; rejects on failure. */
function timeProcess(script: string, args: readonly string[], cwd: string, okCodes = [0]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output = (output + d).slice(-4000);
    });
    child.stderr.on('data', (d) => {
      output = (output + d).slice(-4000);
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 1_800_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      const ms = performance.now() - started;
      if (code !== null && okCodes.includes(code)) resolve(ms);
      else reject(new Error(`mig ${args.slice(0, 3).join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

async function query<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** A database with `count` empty tenant schemas, tenant_t00000 on. */
async function tenantDatabase(label: string, count: number) {
  const database = await createDatabase(label);
  await query(
    database.url,
    `do $$ begin for i in 0..${count - 1} loop execute format('create schema %I', 'tenant_t' || lpad(i::text, 5, '0')); end loop; end $$`,
  );
  return database;
}

/** Sum over the tenant schemas of a count in each (one query, through query_to_xml). */
async function sumOver(url: string, table: string): Promise<number> {
  const rows = await query<{ n: string | null }>(
    url,
    `select sum((xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.${table}', nspname), false, true, '')))[1]::text::int)::text as n
     from pg_namespace where nspname like '${PATTERN}'`,
  );
  return Number(rows[0]?.n ?? 0);
}

/** One psql script: for each schema, its search_path set, then each file's up part in its own transaction. */
async function psqlTenantScript(folder: MigrationFolder, count: number) {
  const files = (await readdir(folder.dir)).filter((f) => f.endsWith('.sql')).sort();
  const ups = await Promise.all(
    files.map(async (f) => {
      const text = await readFile(join(folder.dir, f), 'utf8');
      return text.split(/^-- mig:down.*$/m)[0] ?? text;
    }),
  );
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(`SET search_path TO "${schemaOf(i)}";`);
    for (const up of ups) parts.push(`BEGIN;\n${up}\nCOMMIT;`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'mig-bench-tenants-psql-'));
  const path = join(dir, 'tenants.sql');
  await writeFile(path, `${parts.join('\n')}\n`);
  return { path, dispose: () => rm(dir, { recursive: true, force: true }) };
}

interface ServiceFigures {
  tenants: number;
  firstRequests: number[];
  bytesPerTenant: number;
  heapMiB: number;
  ready: number;
  failing: number;
  readyNs: number;
  readyOneNs: number;
  fresh: number[];
}

/**
 * Scenario 14: a schema per tenant. (a) `mig up --tenants` over N tenant schemas × M migrations (.sql), as a
 * whole process, against one psql session applying the same files to every schema, each file in its own
 * transaction, in the same run; (b) many tenants: `mig up --tenants` and `mig status --tenants` over all of
 * them, then a service process with all of them cached: a cold tenant's first request, a ready tenant's call,
 * the heap per cached tenant, and a new tenant's first request (schema created, every migration applied).
 */
export async function tenantsScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { count, migrations, rounds, many, calls } = ctx.settings.tenants;
  const folder = await writeMigrationFolder(migrations, 'sql');
  const script = await psqlTenantScript(folder, count);
  const exactly: number[] = [];
  try {
    const migLabel = `mig up --tenants: ${count} schemas × ${migrations} .sql migrations, spawn → exit`;
    const psqlLabel = `psql -f: the same files in every schema, each in its own transaction, one session`;
    const startLabel = "psql -c 'select 1': a psql process's own start, taken off the line above";
    const rows = await interleave(
      [
        {
          label: migLabel,
          tool: 'mig',
          round: async () => {
            const database = await tenantDatabase('tenants_mig', count);
            try {
              const ms = await timeProcess(
                MIG_BIN,
                ['up', '--tenants', PATTERN, '--url', database.url, '--migrations', folder.dir],
                folder.dir,
              );
              exactly.push(await sumOver(database.url, 'mig_migrations'), await sumOver(database.url, 'audit'));
              return [ms];
            } finally {
              await database.drop();
            }
          },
        },
        {
          label: psqlLabel,
          tool: 'baseline',
          round: async () => {
            const database = await tenantDatabase('tenants_psql', count);
            try {
              const t = performance.now();
              await psql(database.url, ['-f', script.path]);
              return [performance.now() - t];
            } finally {
              await database.drop();
            }
          },
        },
        {
          label: startLabel,
          tool: 'baseline',
          round: async () => {
            const t = performance.now();
            await psql(ctx.ready.database.url, ['-c', 'select 1']);
            return [performance.now() - t];
          },
        },
      ],
      { rounds, warmup: 0, onRound: (r) => ctx.log(`  ${count} tenants: round ${r + 1}/${rounds}`) },
    );
    const by = Object.fromEntries(rows.map((r) => [r.label, r.summary])) as Record<string, Summary>;
    const mig = by[migLabel] as Summary;
    const floor = (by[psqlLabel] as Summary).median - (by[startLabel] as Summary).median;
    const r = mig.median / floor;
    // Every migration leaves a record; each but the first (which creates the audit table) an audit row.
    const wanted = [count * migrations, count * (migrations - 1)];
    const onceMet = exactly.length > 0 && exactly.every((n, i) => n === wanted[i % 2]);

    ctx.log(`  ${many} tenants: mig up --tenants, mig status --tenants, a service with all of them cached`);
    const big = await tenantDatabase('tenants_many', many);
    let manyRows: Row[] = [];
    let figures: ServiceFigures;
    let upMs: number;
    let statusMs: number;
    try {
      const args = ['--tenants', PATTERN, '--url', big.url, '--migrations', folder.dir];
      upMs = await timeProcess(MIG_BIN, ['up', ...args], folder.dir);
      statusMs = await timeProcess(MIG_BIN, ['status', ...args, '--fail-on-pending'], folder.dir);
      const child = startChild(
        childScript('tenants-service'),
        ['--url', big.url, '--dir', folder.dir, '--tenants', String(many), '--calls', String(calls)],
        1_800_000,
      );
      figures = (await child.message('done', 1_800_000)).data as unknown as ServiceFigures;
      await child.exited;
      const first = summarize(figures.firstRequests);
      manyRows = [
        {
          group: `${many} tenants`,
          label: `mig up --tenants over ${many} schemas (spawn → exit)`,
          tool: 'mig',
          summary: summarize([upMs]),
          statements: null,
        },
        {
          group: `${many} tenants`,
          label: `mig status --tenants over ${many} schemas (spawn → exit)`,
          tool: 'mig',
          summary: summarize([statusMs]),
          statements: null,
        },
        {
          group: `${many} tenants`,
          label: "a cold tenant's first request (schema up to date: its status read)",
          tool: 'mig',
          summary: first,
          statements: null,
        },
        {
          group: `${many} tenants`,
          label: "a new tenant's first request (schema created, every migration applied)",
          tool: 'mig',
          summary: summarize(figures.fresh),
          statements: null,
        },
        {
          group: `${many} tenants`,
          label: 'a ready tenant: ensureInitialized({ tenant }) per call, the same tenant',
          tool: 'mig',
          summary: summarize([figures.readyOneNs / 1e6]),
          statements: 0,
        },
        {
          group: `${many} tenants`,
          label: `ready tenants: ensureInitialized({ tenant }) per call, each call another of the ${many}`,
          tool: 'mig',
          summary: summarize([figures.readyNs / 1e6]),
          statements: 0,
        },
      ];
    } finally {
      await big.drop();
    }
    const targets: TargetCheck[] = [
      {
        target: `mig up --tenants over ${count} schemas at most ${PSQL_GOAL}x of one psql session applying the same files to each`,
        met: r <= PSQL_GOAL,
        detail: `mig ${formatDuration(mig.median)} vs psql ${formatDuration(floor)} (${formatRatio(r)})`,
      },
      {
        target: 'mig up --tenants: each migration applied exactly once in every tenant',
        kind: 'correctness',
        met: onceMet,
        detail: `records and audit rows per run: ${exactly.join(', ')} (wanted ${wanted.join(' and ')})`,
      },
      {
        target: 'a ready tenant costs under a microsecond per call, no I/O',
        met: figures.readyOneNs < 1_000,
        detail:
          `${Math.round(figures.readyOneNs)} ns per call, ${calls} calls to one ready tenant among ${many} cached; ` +
          `${Math.round(figures.readyNs)} ns when each call goes to another of the ${many}`,
      },
      {
        target: `a service serves all ${many} tenants`,
        kind: 'correctness',
        met: figures.ready === many && figures.failing === 0,
        detail: `${figures.ready} ready, ${figures.failing} failing`,
      },
    ];
    return {
      id: '14',
      title: `A schema per tenant: ${count} tenants × ${migrations} migrations, and ${many} tenants`,
      unit: 'time per run (a, b), per first request, per call',
      rows: [...rows, ...manyRows],
      comparisons: [
        { label: `mig up --tenants / psql, ${count} tenants`, ratio: r },
        { label: `mig up --tenants / psql (psql start included)`, ratio: ratio(mig, by[psqlLabel] as Summary) },
      ],
      targets,
      notes: [
        `(a) ${rounds} round(s), alternating; each run on a fresh database with ${count} empty schemas; mig at its default concurrency (4 tenants at once), psql in one session, one schema after the other. The floor is psql's median less a psql process that only runs select 1.`,
        `(b) ${many} schemas: mig up --tenants took ${formatDuration(upMs)} and mig status --tenants ${formatDuration(statusMs)}. A service process then made each tenant's first request (8 at a time): median ${formatDuration(summarize(figures.firstRequests).median)}; with all ${many} cached, the heap grew by ${Math.round(figures.bytesPerTenant)} bytes per tenant (${figures.heapMiB.toFixed(1)} MiB in all, after gc); a ready tenant's call ${Math.round(figures.readyOneNs)} ns (${Math.round(figures.readyNs)} ns when each call goes to another tenant); a new tenant's first request (create schema, ${migrations} migrations) median ${formatDuration(summarize(figures.fresh).median)}.`,
      ],
      elapsedMs: performance.now() - started,
    };
  } finally {
    await script.dispose();
    await folder.dispose();
  }
}
