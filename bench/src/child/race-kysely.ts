// One application instance of a race that uses Kysely's own Migrator: imports and builds it, says "armed",
// waits for the start line, runs migrateToLatest(), and reports when it was done and what it applied.
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { countStatements, failed } from './protocol.js';
import { raceKysely } from './race-run.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    dir: { type: 'string' },
    name: { type: 'string', default: `kysely-${process.pid}` },
  },
});
const statements = countStatements();

try {
  const pool = new pg.Pool({ connectionString: values.url, max: 2, application_name: values.name });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  await raceKysely(db, values.dir as string, values.name as string, statements);
} catch (error) {
  failed(error);
}
