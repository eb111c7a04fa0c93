// Cold-start reference: a new process that imports Kysely and pg, and runs SELECT 1 through Kysely. The
// difference between this and mig's cold start is what mig itself costs on top of the query builder an
// application using mig loads anyway.
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { countStatements, emit, failed } from './protocol.js';

const importedAt = performance.now();
const { values } = parseArgs({ options: { url: { type: 'string' } } });
const statements = countStatements();

try {
  const pool = new pg.Pool({ connectionString: values.url, max: 2, application_name: 'mig-bench-cold-kysely' });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  await sql`select 1`.execute(db);
  emit('ready', { importedAt, readyAt: performance.now(), statements: statements.count });
  await db.destroy();
} catch (error) {
  failed(error);
}
