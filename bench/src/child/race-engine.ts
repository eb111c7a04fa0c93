// One application instance of a race on MariaDB or SQLite: builds mig's service (openDatabase + autoMigrate)
// or Kysely's own Migrator on Kysely's own dialect, says "armed", waits for the start line, migrates, and
// reports when it was done and what it applied. The same report as race-instance.ts and race-kysely.ts.
import { parseArgs } from 'node:util';
import type { LockStrategy } from '@mig/core';
import { openDatabase } from '@mig/kysely-adapter';
import { type LockTimings, migMigrator, migService } from '../compose.js';
import { kyselyOwn } from '../engine-db.js';
import { failed } from './protocol.js';
import { raceKysely, raceMig } from './race-run.js';

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
  await raceMig(service, lock, values.name as string);
}

/** Kysely's Migrator as its documentation composes it, on Kysely's own dialect for the engine. */
async function runKysely(): Promise<void> {
  const db = await kyselyOwn(url);
  await raceKysely(db, dir, values.name as string);
}

try {
  await (values.tool === 'kysely' ? runKysely() : runMig());
} catch (error) {
  failed(error);
}
