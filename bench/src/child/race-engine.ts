// One application instance of a race on MariaDB or SQLite: builds mig's service (openDatabase + autoMigrate)
// or Kysely's own Migrator on Kysely's own dialect, says "armed", waits for the start line, migrates, and
// reports when it was done and what it applied. The same report as race-instance.ts and race-kysely.ts.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { LockStrategy } from '@mig/core';
import { openDatabase } from '@mig/kysely-adapter';
import { FileMigrationProvider, Migrator } from 'kysely';
import { type LockTimings, migMigrator, migService, wallNow } from '../compose.js';
import { kyselyOwn } from '../engine-db.js';
import { emit, failed, waitForStart } from './protocol.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    dir: { type: 'string' },
    tool: { type: 'string', default: 'mig' },
    strategy: { type: 'string', default: 'advisory' },
    name: { type: 'string', default: `engine-${process.pid}` },
  },
});
const url = values.url as string;
const dir = values.dir as string;

/** mig as an application composes it: openDatabase on the URL, a service that migrates on first use. */
async function runMig(): Promise<void> {
  const { db } = await openDatabase<any>(url, { maxConnections: 2, applicationName: values.name });
  const lock: LockTimings = {};
  const service = migService(db, {
    migrator: (conn) => migMigrator(conn, dir, { url, strategy: values.strategy as LockStrategy, lockTimings: lock }),
  });
  emit('armed');
  await waitForStart();
  const startedAt = wallNow();
  await service.ensureInitialized();
  const readyAt = wallNow();
  const state = service.state();
  emit('ready', {
    name: values.name,
    startedAt,
    readyAt,
    appliedHere: state.appliedHere,
    lockWaitMs: state.lockWaitMs,
    lock,
    migrations: state.migrations,
    statements: 0,
  });
  await service.close();
}

/** Kysely's Migrator as its documentation composes it, on Kysely's own dialect for the engine. */
async function runKysely(): Promise<void> {
  const db = await kyselyOwn(url);
  const migrator = new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder: dir }) });
  emit('armed');
  await waitForStart();
  const startedAt = wallNow();
  const { error, results } = await migrator.migrateToLatest();
  const readyAt = wallNow();
  const appliedHere = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  emit('ready', {
    name: values.name,
    startedAt,
    readyAt,
    appliedHere,
    lockWaitMs: null,
    lock: {},
    migrations: error ? 'failed' : appliedHere.length > 0 ? 'applied' : 'up-to-date',
    error: error ? String(error instanceof Error ? error.message : error) : undefined,
    statements: 0,
  });
  await db.destroy();
}

try {
  await (values.tool === 'kysely' ? runKysely() : runMig());
} catch (error) {
  failed(error);
}
