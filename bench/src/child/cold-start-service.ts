// Cold start with @mig/service: a new process whose `createDatabase()` (configured as a service would be,
// from its environment) brings the database up to date on the first ensureInitialized(); here it finds the
// database up to date. @mig/service is not a dependency of the bench: it is imported from the workspace's
// built package, as an application that depends on it would load it.
import { parseArgs } from 'node:util';
import { countStatements, emit, failed } from './protocol.js';

const SERVICE = new URL('../../../packages/service/dist/index.js', import.meta.url).href;
/** The slice of @mig/service this child uses (typed here: the package is built beside the bench, not before it). */
interface ServiceModule {
  createDatabase(options: Record<string, unknown>): {
    ensureInitialized(): Promise<unknown>;
    state(): { migrations: string };
    close(): Promise<void>;
  };
}
const { createDatabase } = (await import(SERVICE)) as ServiceModule;
const importedAt = performance.now();
const { values } = parseArgs({ options: { url: { type: 'string' }, dir: { type: 'string' } } });
const statements = countStatements();
const silent = { debug() {}, info() {}, warn() {}, error() {} };

try {
  const database = createDatabase({
    cwd: values.dir as string,
    env: { DATABASE_URL: values.url, MIGRATIONS_DIR: values.dir, AUTO_MIGRATE: 'true' },
    applicationName: 'mig-bench-cold-service',
    maxConnections: 2,
    logger: silent,
  });
  await database.ensureInitialized();
  const readyAt = performance.now();
  const state = database.state();
  emit('ready', { importedAt, readyAt, statements: statements.count, migrations: state.migrations });
  await database.close();
} catch (error) {
  failed(error);
}
