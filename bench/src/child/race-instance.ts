// One application instance of a race: imports and builds its service, says "armed", waits for the start
// line, then runs ensureInitialized() with autoMigrate on, and reports when it was ready and what it applied.
// With --check-only, autoMigrate is off: the same process only checks the status (the baseline of scenario 9).
import { parseArgs } from 'node:util';
import type { LockStrategy } from '@mig/core';
import { createPgDialect } from '@mig/kysely-adapter/pg';
import { Kysely } from 'kysely';
import { type LockTimings, migMigrator, migService } from '../compose.js';
import { countStatements, failed } from './protocol.js';
import { raceMig } from './race-run.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    dir: { type: 'string' },
    strategy: { type: 'string', default: 'advisory' },
    name: { type: 'string', default: `instance-${process.pid}` },
    'check-only': { type: 'boolean', default: false },
  },
});
const url = values.url as string;
const statements = countStatements();

try {
  // Two connections, as the adapter's README asks of the lease strategy (the advisory one needs one).
  const db = new Kysely<any>({ dialect: createPgDialect({ url, max: 2, applicationName: values.name }) });
  const lock: LockTimings = {};
  const service = migService(db, {
    migrator: (conn) =>
      migMigrator(conn, values.dir as string, { url, strategy: values.strategy as LockStrategy, lockTimings: lock }),
    autoMigrate: !values['check-only'],
  });
  await raceMig(service, lock, values.name as string, statements);
} catch (error) {
  failed(error);
}
