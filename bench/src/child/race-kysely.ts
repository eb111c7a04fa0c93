// One application instance of a race that uses Kysely's own Migrator: imports and builds it, says "armed",
// waits for the start line, runs migrateToLatest(), and reports when it was done and what it applied.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FileMigrationProvider, Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { countStatements, emit, failed, waitForStart } from './protocol.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    dir: { type: 'string' },
    name: { type: 'string', default: `kysely-${process.pid}` },
  },
});
const statements = countStatements();
/** Wall-clock ms, comparable between processes (as compose.ts's wallNow, without loading mig). */
const wallNow = () => performance.timeOrigin + performance.now();

try {
  const pool = new pg.Pool({ connectionString: values.url, max: 2, application_name: values.name });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  const migrator = new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: values.dir as string }),
  });
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
    statements: statements.count,
    roundTrips: statements.roundTrips,
  });
  await db.destroy();
} catch (error) {
  failed(error);
}
