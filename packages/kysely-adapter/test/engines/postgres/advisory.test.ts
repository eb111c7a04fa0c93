import { LockTimeoutError } from '@mig/core';
import { Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../../test/support/postgres.js';
import { runNode } from '../../../../../test/support/processes.js';
import { ADVISORY_CLASS_ID, advisoryObjectId, createPgDialect } from '../../../src/engines/postgres/index.js';
import { createKyselyAdapter } from '../../../src/index.js';
import { expectReleaseNotice } from '../../support/release-notice.js';

// Advisory lock keys are per database. Two services on one server, both with mig's default table, each have
// their own lock: neither may ever be told that the other's session holds its lock.

const CLI = new URL('../../../../cli/dist/bin.js', import.meta.url).pathname;

/** Takes mig's advisory lock in `database` from a session named `name`, as another instance would. */
async function holdIn(database: TestDatabase, name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: database.url, application_name: name });
  await client.connect();
  await client.query('select pg_advisory_lock($1, $2)', [ADVISORY_CLASS_ID, advisoryObjectId('public.mig_migrations')]);
  return client;
}

describe('two databases on one server, both with the default table', () => {
  let a: TestDatabase;
  let b: TestDatabase;
  beforeAll(async () => {
    [a, b] = await Promise.all([createTestDatabase('advisory_a'), createTestDatabase('advisory_b')]);
  });
  afterAll(async () => {
    await Promise.all([a.drop(), b.drop()]);
  });

  it("names only the current database's holder: none in B while A's lock is held", async () => {
    const holderA = await holdIn(a, 'holder-in-a');
    try {
      expect(await createKyselyAdapter({ db: a.db }).advisoryHolder()).toMatchObject({
        applicationName: 'holder-in-a',
      });
      expect(await createKyselyAdapter({ db: b.db }).advisoryHolder()).toBeNull();
      // mig unlock on B: free, and no pg_terminate_backend of A's session to copy and paste.
      const unlock = await runNode(CLI, ['unlock', '--json', '--url', b.url], { env: { NO_COLOR: '1' } });
      expect(unlock.code, unlock.stderr).toBe(0);
      expect(JSON.parse(unlock.stdout)).toMatchObject({ advisory: { holder: null } });
      const human = await runNode(CLI, ['unlock', '--url', b.url], { env: { NO_COLOR: '1' } });
      expect(human.stdout).toContain('Advisory lock: free.');
      expect(human.stdout).not.toContain('pg_terminate_backend');
      // And B's own lock is free to take: the keys are per database.
      const lease = await createKyselyAdapter({ db: b.db }).createLock().acquire({ timeoutMs: 1_000 });
      await lease.release();
    } finally {
      await holderA.end();
    }
  });

  it("a lock timeout in B names B's holder, never A's", async () => {
    const [holderA, holderB] = await Promise.all([holdIn(a, 'holder-in-a'), holdIn(b, 'holder-in-b')]);
    try {
      const error = await createKyselyAdapter({ db: b.db })
        .createLock()
        .acquire({ timeoutMs: 300 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockTimeoutError);
      expect((error as LockTimeoutError).holder).toMatchObject({ applicationName: 'holder-in-b' });
      expect((error as Error).message).toContain('holder-in-b');
      expect((error as Error).message).not.toContain('holder-in-a');
      const pidA = (await holderA.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      expect((error as LockTimeoutError).holder?.pid).not.toBe(pidA);
    } finally {
      await Promise.all([holderA.end(), holderB.end()]);
    }
  });
});

describe('the release notice', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('advisory_notice');
  });
  afterAll(async () => {
    await database.drop();
  });

  it('tells a waiting instance the head the holder left, before it tries the lock again', async () => {
    // Two instances: two pools through mig's own dialect (which hears NOTIFY), no shared in-process mutex.
    await expectReleaseNotice(
      (name) => new Kysely<unknown>({ dialect: createPgDialect({ url: database.url, max: 2, applicationName: name }) }),
    );
  });
});
