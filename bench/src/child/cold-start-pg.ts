// Cold-start baseline: a new process that only connects with pg and runs SELECT 1.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { countStatements, emit, failed } from './protocol.js';

const importedAt = performance.now();
const { values } = parseArgs({ options: { url: { type: 'string' } } });
const statements = countStatements();

try {
  const client = new pg.Client({ connectionString: values.url, application_name: 'mig-bench-cold-pg' });
  await client.connect();
  await client.query('select 1');
  emit('ready', { importedAt, readyAt: performance.now(), statements: statements.count });
  await client.end();
} catch (error) {
  failed(error);
}
