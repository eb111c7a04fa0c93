import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import type { Logger } from '@mig/core';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteLeasePrimitive } from '../../../src/engines/sqlite/lease.js';
import { createKyselyStore } from '../../../src/index.js';
import { createTestSqlite, type TestSqlite } from '../../support/sqlite.js';

describe('the SQLite lease and a dead holder', () => {
  let file: TestSqlite;
  let told: string[];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (_fields, message) => told.push(message ?? ''),
    error: (_fields, message) => told.push(message ?? ''),
  };

  beforeEach(async () => {
    file = await createTestSqlite();
    told = [];
    await createKyselyStore({ db: file.db }).prepare();
  });
  afterEach(async () => {
    await file.close();
  });

  async function leaseHeldBy(owner: string): Promise<void> {
    await sql`
      insert into mig_migrations_lock (key, owner, token, acquired_at, expires_at)
      values ('mig_migrations', ${owner}, 7, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
              strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+600 seconds'))`.execute(file.db);
  }

  function deadPid(): number {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    return Number(child.stdout);
  }

  it('takes over at once, and says so, when the holder is a process on this host that no longer exists', async () => {
    const pid = deadPid();
    await leaseHeldBy(`${hostname()}:${pid}:0123abcd`);
    const lease = createSqliteLeasePrimitive({
      db: file.open(),
      tables: createKyselyStore({ db: file.db }).tables,
      logger,
    });
    const attempt = await lease.tryAcquire(`${hostname()}:${process.pid}:89abcdef`, 30_000);
    expect(attempt.acquired).toBe(true);
    expect(attempt.acquired && attempt.value.token).toBe('8');
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(`process ${pid} on this host no longer exists`);
  });

  it('waits for a holder that is alive, on another host, or not named host:pid', async () => {
    const tables = createKyselyStore({ db: file.db }).tables;
    const lease = createSqliteLeasePrimitive({ db: file.open(), tables, logger });
    const pid = deadPid();
    for (const owner of [
      `${hostname()}:${process.ppid}:0123abcd`,
      `elsewhere.example:${pid}:0123abcd`,
      `api-${pid}:0123abcd`,
    ]) {
      await sql`delete from mig_migrations_lock`.execute(file.db);
      await leaseHeldBy(owner);
      const attempt = await lease.tryAcquire(`${hostname()}:${process.pid}:89abcdef`, 30_000);
      expect(attempt.acquired, owner).toBe(false);
      expect(!attempt.acquired && attempt.holder?.owner).toBe(owner);
      expect(await lease.holder()).toMatchObject({ owner });
    }
    expect(told).toEqual([]);
  });

  it('counts a file busy with another writer as a busy lock, not a failure', async () => {
    const tables = createKyselyStore({ db: file.db }).tables;
    const lease = createSqliteLeasePrimitive({ db: file.open(), tables, logger });
    const writer = file.open();
    await writer.connection().execute(async (conn) => {
      await sql.raw('BEGIN IMMEDIATE').execute(conn);
      try {
        const attempt = await lease.tryAcquire(`${hostname()}:${process.pid}:89abcdef`, 30_000);
        expect(attempt.acquired).toBe(false);
      } finally {
        await sql.raw('ROLLBACK').execute(conn);
      }
    });
    const after = await lease.tryAcquire(`${hostname()}:${process.pid}:89abcdef`, 30_000);
    expect(after.acquired).toBe(true);
  });

  it('ends a held lease by force and names who held it', async () => {
    const tables = createKyselyStore({ db: file.db }).tables;
    const lease = createSqliteLeasePrimitive({ db: file.db, tables, logger });
    await leaseHeldBy(`${hostname()}:${process.ppid}:0123abcd`);
    expect(await lease.forceRelease()).toMatchObject({ owner: `${hostname()}:${process.ppid}:0123abcd` });
    expect(await lease.holder()).toBeNull();
    expect(await lease.forceRelease()).toBeNull();
  });
});
