import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKyselyAdapter } from '@mig/kysely-adapter';
import { createPgDialect } from '@mig/kysely-adapter/pg';
import { Kysely } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { lastJsonLine, type ProcessResult, startNode } from '../../../test/support/processes.js';
import { startTempPostgres, type TempPostgres } from '../../../test/support/temp-postgres.js';

// Many instances starting at once can fill max_connections ("sorry, too many clients already"). That is a
// transient refusal: every instance must retry it and succeed. A server of its own, whose max_connections
// is far below the racing processes' total pool size, makes it happen for sure.

const INSTANCE = fileURLToPath(new URL('./fixtures/budget-instance.mjs', import.meta.url));
const PROCESSES = 8;
const POOL = 2;
const MAX_CONNECTIONS = 4;
const STEPS = 5;

interface Outcome {
  readonly name: string;
  readonly appliedHere: string[];
  readonly migrations: string;
  readonly error: { code: string | null; message: string } | null;
}

function outcome(run: ProcessResult): Outcome {
  return lastJsonLine<Outcome>(run);
}

/** An audit table, then steps that each create a table and write one audit row; one step takes a while. */
async function writeMigrations(dir: string): Promise<string[]> {
  const files: Record<string, string> = {
    '000_audit.sql':
      "create table audit (migration text not null, app text not null default current_setting('application_name'));\n",
  };
  for (let i = 1; i <= STEPS; i++) {
    const name = `${String(i).padStart(3, '0')}_step`;
    // The applier keeps its connections a while, so the instances that come later meet a full server.
    const slow = i === 1 ? 'select pg_sleep(1);\n' : '';
    files[`${name}.sql`] = `${slow}create table t_${i} (id int);\ninsert into audit (migration) values ('${name}');\n`;
  }
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  return Object.keys(files).map((f) => f.replace(/\.sql$/, ''));
}

async function withClient<T>(server: TempPostgres, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.url(database) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe(`${PROCESSES} instances with pools of ${POOL} on a server allowing ${MAX_CONNECTIONS} connections`, () => {
  it.each(['advisory', 'lease'] as const)(
    'the %s strategy: every instance retries "too many clients" and succeeds, each migration applied once',
    { timeout: 180_000 },
    async (strategy) => {
      // Started here, not in a hook: a server that cannot start fails this test instead of skipping it.
      const server = await startTempPostgres({
        max_connections: MAX_CONNECTIONS,
        superuser_reserved_connections: 0,
      });
      const dir = await mkdtemp(join(tmpdir(), 'mig-budget-'));
      try {
        const names = await writeMigrations(dir);
        await withClient(server, 'postgres', (c) => c.query('create database budget'));
        // The test's own connection is closed before the start: the instances have the server to themselves.
        const instances = Array.from({ length: PROCESSES }, (_, i) =>
          startNode(INSTANCE, [
            `--url=${server.url('budget')}`,
            `--dir=${dir}`,
            `--name=budget-${strategy}-${i}`,
            `--strategy=${strategy}`,
            `--pool=${POOL}`,
          ]),
        );
        await Promise.all(instances.map((p) => p.waitFor(/^armed$/, 90_000)));
        for (const p of instances) p.child.kill('SIGUSR2');
        const runs = await Promise.all(instances.map((p) => p.done));

        const outcomes = runs.map(outcome);
        for (const [i, run] of runs.entries()) {
          expect(outcomes[i]?.error, `${run.stdout}\n${run.stderr}`).toBeNull();
          expect(outcomes[i]?.migrations).toMatch(/^(applied|up-to-date)$/);
          expect(run.code).toBe(0);
        }
        // The condition this test is about did happen: instances were refused and retried, and said so.
        const refused = runs.filter((r) => /too many clients already/.test(r.stderr));
        expect(refused.length, runs.map((r) => r.stderr).join('\n')).toBeGreaterThan(0);
        for (const run of refused) expect(run.stderr).toMatch(/failed for now \(attempt \d+\); retrying/);
        expect(await server.log()).toContain('sorry, too many clients already');

        // Each migration applied by exactly one instance, recorded once, and run once.
        expect(outcomes.flatMap((o) => o.appliedHere).sort()).toEqual(names);
        await withClient(server, 'budget', async (c) => {
          const audit = await c.query<{ migration: string; n: number }>(
            'select migration, count(*)::int as n from audit group by migration order by migration',
          );
          expect(audit.rows).toEqual(names.slice(1).map((migration) => ({ migration, n: 1 })));
          const records = await c.query<{ name: string }>('select name from mig_migrations order by id');
          expect(records.rows.map((r) => r.name)).toEqual(names);
        });
      } finally {
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

/** Opens connections until the server refuses one ("too many clients"); the caller ends them. */
async function fillServer(server: TempPostgres): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  for (;;) {
    const client = new pg.Client({ connectionString: server.url() });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      if ((error as { code?: string }).code === '53300') return clients;
      throw error;
    }
    clients.push(client);
  }
}

describe.each(['lease', 'advisory'] as const)('a %s waiter that finds the server full', (strategy) => {
  it('keeps waiting (within its lock timeout) instead of failing, and takes the lock once a connection frees', {
    timeout: 60_000,
  }, async () => {
    const server = await startTempPostgres({ max_connections: 3, superuser_reserved_connections: 0 });
    const fillers: pg.Client[] = [];
    try {
      await withClient(server, 'postgres', (c) => c.query('create database waiter'));
      const setup = new Kysely<any>({ dialect: createPgDialect({ url: server.url('waiter'), max: 1 }) });
      await createKyselyAdapter({ db: setup }).store.prepare();
      await setup.destroy();

      // An instance whose pool has no connection open, on a server with none left to give.
      fillers.push(...(await fillServer(server)));
      expect(fillers).toHaveLength(3);
      const db = new Kysely<any>({ dialect: createPgDialect({ url: server.url('waiter'), max: 2 }) });
      try {
        const lock = createKyselyAdapter({ db }).createLock({ strategy, leaseTtlMs: 5_000 });
        const acquiring = lock.acquire({ timeoutMs: 30_000 });
        const settled = acquiring.then(
          () => 'acquired',
          (error: unknown) => error,
        );
        // Refused, and still waiting a while later.
        await new Promise((r) => setTimeout(r, 1_500));
        expect((await server.log()).match(/sorry, too many clients already/g)?.length ?? 0).toBeGreaterThan(1);
        expect(await Promise.race([settled, new Promise((r) => setTimeout(() => r('waiting'), 0))])).toBe('waiting');

        await fillers.pop()?.end();
        const lease = await acquiring;
        expect(lease.fence).toMatchObject({ kind: strategy });
        await lease.release();
      } finally {
        await db.destroy();
      }
    } finally {
      await Promise.all(fillers.map((c) => c.end().catch(() => {})));
      await server.stop();
    }
  });
});
