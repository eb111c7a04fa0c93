import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { startNode } from '../../../test/support/processes.js';
import { createDatabase } from '../src/index.js';

// A service is stopped (SIGTERM: a deploy, a scale-down) while its first ensureInitialized() migrates. The
// service does not take the process over: it lets the lock go first, then the process ends as it would
// have; an application that listens for SIGTERM itself still decides. Either way the next instance gets the
// lock at once, and the migration that was running left nothing behind.

const INSTANCE = fileURLToPath(new URL('./fixtures/signal-instance.mjs', import.meta.url));

/** A table, then a code migration that writes a row and waits longer than the stop's grace period. */
const SLOW = {
  '001_audit.sql': 'create table audit (migration text not null);\n',
  '002_slow.mjs':
    "export async function up(db) {\n  await db.insertInto('audit').values({ migration: '002_slow' }).execute();\n" +
    "  console.log('002_slow running');\n  await new Promise((resolve) => setTimeout(resolve, 60_000));\n}\n",
};

describe('SIGTERM while the service migrates', () => {
  let database: TestDatabase;
  let dir: string;

  beforeEach(async () => {
    database = await createTestDatabase('signals');
    dir = await mkdtemp(join(tmpdir(), 'mig-signals-'));
    for (const [file, content] of Object.entries(SLOW)) await writeFile(join(dir, file), content);
  });
  afterEach(async () => {
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  /** The next instance: it gets the lock at once (the stopped one let it go) and applies what was left. */
  async function nextInstance() {
    await writeFile(join(dir, '002_slow.mjs'), 'export async function up() {}\n');
    const next = createDatabase({
      env: {},
      overrides: { databaseUrl: database.url, migrationsDir: dir, autoMigrate: true, lockStrategy: 'lease' },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    try {
      await next.ensureInitialized();
      return next.state();
    } finally {
      await next.close();
    }
  }

  it.each(['lease', 'advisory'])(
    'with the %s lock: lets the lock go, rolls the running migration back, then ends by the signal',
    { timeout: 60_000 },
    async (strategy) => {
      const instance = startNode(INSTANCE, [`--url=${database.url}`, `--dir=${dir}`, `--strategy=${strategy}`]);
      await instance.waitFor(/002_slow running/);
      instance.child.kill('SIGTERM');
      const result = await instance.done;
      // The default action of SIGTERM, raised again once the lock was let go.
      expect(result.signal, result.stdout + result.stderr).toBe('SIGTERM');
      expect(result.stdout + result.stderr).toContain('SIGTERM while migrating');
      expect((await database.query('select migration from audit')).rows).toEqual([]);
      expect((await database.query('select name from mig_migrations order by id')).rows).toEqual([
        { name: '001_audit' },
      ]);
      const state = await nextInstance();
      expect(state.appliedHere).toEqual(['002_slow']);
      expect(state.lockWaitMs).toBeLessThan(2_000);
    },
  );

  it('leaves the decision to an application that listens for SIGTERM itself', { timeout: 60_000 }, async () => {
    const instance = startNode(INSTANCE, [`--url=${database.url}`, `--dir=${dir}`, '--app-handler']);
    await instance.waitFor(/002_slow running/);
    instance.child.kill('SIGTERM');
    const result = await instance.done;
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('app: SIGTERM');
    expect(result.stdout).toContain('"closed":true');
    expect((await database.query('select migration from audit')).rows).toEqual([]);
    expect((await nextInstance()).appliedHere).toEqual(['002_slow']);
  });
});
