// Cold start with mig: a new process whose database service initializes (autoMigrate on) against an
// up-to-date database, composed the way an application composes it.
import { parseArgs } from 'node:util';
import { createPgDialect } from '@mig/kysely-adapter/pg';
import { Kysely } from 'kysely';
import { migMigrator, migService } from '../compose.js';
import { countStatements, emit, failed } from './protocol.js';

const importedAt = performance.now();
const { values } = parseArgs({ options: { url: { type: 'string' }, dir: { type: 'string' } } });
const url = values.url as string;
const statements = countStatements();

try {
  const db = new Kysely<any>({ dialect: createPgDialect({ url, max: 2, applicationName: 'mig-bench-cold-mig' }) });
  const service = migService(db, { migrator: (conn) => migMigrator(conn, values.dir as string, { url }) });
  await service.ensureInitialized();
  const readyAt = performance.now();
  const state = service.state();
  emit('ready', { importedAt, readyAt, statements: statements.count, migrations: state.migrations });
  await service.close();
} catch (error) {
  failed(error);
}
