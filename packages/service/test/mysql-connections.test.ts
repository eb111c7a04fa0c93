import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@mig/core';
import { type Connection, createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTempMariadb, type TempMariadb } from '../../../test/support/temp-mariadb.js';
import { createDatabase } from '../src/index.js';

// MySQL's "Too many connections" (ER_CON_COUNT_ERROR, 1040) is what a server full of instances starting at once
// answers, as PostgreSQL answers "too many clients": the service's connect retries it without using up an
// attempt. A MariaDB of its own, filled to its max_connections by the test, makes it happen for sure.

const MAX_CONNECTIONS = 10; // MariaDB's floor

let server: TempMariadb;
let dir: string;

beforeAll(async () => {
  server = await startTempMariadb({ 'max-connections': MAX_CONNECTIONS });
  const admin = await createConnection({ uri: server.url() });
  await admin.query('create database app');
  await admin.end();
  dir = await mkdtemp(join(tmpdir(), 'mig-mysql-connections-'));
  await writeFile(join(dir, '001_todos.sql'), 'create table todos (id int primary key, title text);\n');
}, 180_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Connections up to the server's limit (a root session may take one more than max_connections). */
async function fillServer(): Promise<Connection[]> {
  const held: Connection[] = [];
  for (;;) {
    try {
      held.push(await createConnection({ uri: server.url() }));
    } catch (error) {
      expect((error as { errno?: number }).errno).toBe(1040);
      return held;
    }
  }
}

function capturingLogger(): { logger: Logger; warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = [];
  const ignore = () => {};
  return {
    warnings,
    logger: {
      debug: ignore,
      info: ignore,
      error: ignore,
      warn: (fields) => warnings.push(fields as Record<string, unknown>),
    },
  };
}

describe('connecting to a MariaDB that has no connection to spare', () => {
  it('retries "Too many connections" as a passing refusal, and migrates once a connection frees up', async () => {
    const held = await fillServer();
    expect(held.length).toBeGreaterThanOrEqual(MAX_CONNECTIONS);
    const { logger, warnings } = capturingLogger();
    const database = createDatabase<{ todos: { id: number; title: string | null } }>({
      env: {},
      overrides: { databaseUrl: server.url('app'), migrationsDir: dir, autoMigrate: true },
      logger,
    });
    try {
      const ready = database.ensureInitialized();
      ready.catch(() => {});
      // Well past the three attempts a refusal that is not transient would get.
      for (let i = 0; warnings.filter((w) => w.transient === true).length < 5; i++) {
        if (i > 300) throw new Error(`no transient retries seen: ${JSON.stringify(warnings)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await Promise.all(held.map((c) => c.end()));
      const db = await ready;
      expect(database.state()).toMatchObject({ phase: 'ready', appliedHere: ['001_todos'] });
      expect(await db.selectFrom('todos').selectAll().execute()).toEqual([]);
      const retries = warnings.filter((w) => w.transient === true);
      expect(String(retries[0]?.err)).toMatch(/Too many connections/i);
      expect(warnings.filter((w) => w.transient === false)).toEqual([]);
    } finally {
      await Promise.all(held.map((c) => c.end().catch(() => {})));
      await database.close();
    }
  });
});
