import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { type RunningProcess, startNode } from '../../../test/support/processes.js';
import { APP_DIR } from '../src/lib/paths.js';

const SERVER = join(APP_DIR, 'dist', 'server.js');

describe('several API processes starting at once on one PostgreSQL database', () => {
  let database: TestDatabase;
  const processes: RunningProcess[] = [];
  beforeAll(async () => {
    database = await createTestDatabase('instances');
  });
  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.done));
    await database.drop();
  });

  it('apply each migration exactly once; every instance serves', { timeout: 120_000 }, async () => {
    for (let i = 0; i < 6; i++) {
      processes.push(
        startNode(SERVER, [], {
          env: { DATABASE_URL: database.url, PORT: '0', NODE_ENV: 'test', APP_NAME: `instance-${i}`, AUTO_MIGRATE: '' },
        }),
      );
    }
    const ports = await Promise.all(
      processes.map(async (p) => (JSON.parse(await p.waitFor(/"port":\d+/)) as { port: number }).port),
    );
    const responses = await Promise.all(ports.map((port) => fetch(`http://127.0.0.1:${port}/todos`)));
    expect(responses.map((r) => r.status)).toEqual(ports.map(() => 200));
    const states = await Promise.all(
      ports.map(async (port) => ((await (await fetch(`http://127.0.0.1:${port}/migrations`)).json()) as any).state),
    );
    const appliers = states.filter((s) => s.appliedHere.length > 0);
    expect(appliers).toHaveLength(1);
    expect(appliers[0].appliedHere).toHaveLength(3);
    expect(states.every((s) => s.phase === 'ready')).toBe(true);
    const { rows } = await database.query(
      'select name, count(*)::int as n from mig_migrations group by name order by name',
    );
    expect(rows).toEqual([
      { name: '20260101000000_create_todos', n: 1 },
      { name: '20260102000000_add_todo_done', n: 1 },
      { name: '20260103000000_index_open_todos', n: 1 },
    ]);
  });
});
