// A service with a schema per tenant (@mig/service's createDatabase({ tenants })), over many tenants whose
// schemas are already up to date: each tenant's first request (cold: a status read in its own schema), the
// heap with all of them cached, a ready tenant's call, and first requests of new tenants (schema created,
// migrations applied). Run with --expose-gc. @mig/service is imported from the workspace's built package.
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { emit, failed } from './protocol.js';

const SERVICE = new URL('../../../packages/service/dist/index.js', import.meta.url).href;
interface TenantDatabase {
  ensureInitialized(options: { tenant: string }): Promise<unknown>;
  report(): { tenants: { ready: number; failingCount: number } | null };
  close(): Promise<void>;
}
const { createDatabase } = (await import(SERVICE)) as {
  createDatabase(options: Record<string, unknown>): TenantDatabase;
};
const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    dir: { type: 'string' },
    tenants: { type: 'string' },
    fresh: { type: 'string', default: '5' },
    calls: { type: 'string', default: '1000000' },
  },
});
const count = Number(values.tenants);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
// A collection before each heap reading, without asking the parent for --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const name = (i: number) => `t${String(i).padStart(5, '0')}`;

try {
  const database = createDatabase({
    cwd: values.dir,
    env: {},
    overrides: { databaseUrl: values.url, migrationsDir: values.dir, autoMigrate: true, tenantConcurrency: 4 },
    applicationName: 'mig-bench-tenants',
    maxConnections: 10,
    logger: silent,
    handleSignals: false,
    tenants: { schema: (id: string) => `tenant_${id}` },
  });
  // The first tenant pays for reading the folder and loading the engine: outside the per-tenant figures.
  await database.ensureInitialized({ tenant: name(0) });
  const before = heap();
  const firstRequests: number[] = [];
  // Cold tenants, a few at a time as requests would come: each one's first request timed alone.
  for (let i = 1; i < count; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, count - i) }, async (_, k) => {
        const started = performance.now();
        await database.ensureInitialized({ tenant: name(i + k) });
        firstRequests.push(performance.now() - started);
      }),
    );
  }
  const after = heap();
  const report = database.report().tenants;
  // A ready tenant: the same call again and again, each to a different tenant of the whole map.
  const options = Array.from({ length: count }, (_, i) => ({ tenant: name(i) }));
  const calls = Number(values.calls);
  let sink: unknown;
  const readyStarted = performance.now();
  for (let i = 0; i < calls; i++) sink = database.ensureInitialized(options[i % count] as { tenant: string });
  const readyNs = ((performance.now() - readyStarted) * 1e6) / calls;
  // One ready tenant called again and again, as one tenant's requests are: what a single database costs.
  const one = options[0] as { tenant: string };
  const oneStarted = performance.now();
  for (let i = 0; i < calls; i++) sink = database.ensureInitialized(one);
  const readyOneNs = ((performance.now() - oneStarted) * 1e6) / calls;
  await sink;
  // New tenants: schema created, every migration applied, on the first request.
  const fresh: number[] = [];
  for (let i = 0; i < Number(values.fresh); i++) {
    const started = performance.now();
    await database.ensureInitialized({ tenant: `fresh${i}` });
    fresh.push(performance.now() - started);
  }
  emit('done', {
    tenants: count,
    firstRequests,
    bytesPerTenant: (after - before) / (count - 1),
    heapMiB: after / 2 ** 20,
    ready: report?.ready ?? 0,
    failing: report?.failingCount ?? 0,
    readyNs,
    readyOneNs,
    fresh,
  });
  await database.close();
} catch (error) {
  failed(error);
}
