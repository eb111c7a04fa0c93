// Runs the example API: `pnpm start` (root) or `node dist/server.js`. Configuration through the
// environment (DATABASE_URL, AUTO_MIGRATE, …) or a mig.config.* file; PORT (default 3000).
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { createDatabase } from './lib/database.js';
import { createLogger } from './lib/logger.js';
import { setupTelemetry } from './lib/telemetry.js';

const logger = createLogger({ level: (process.env.LOG_LEVEL as 'debug' | 'info' | undefined) ?? 'info' });
const telemetry = setupTelemetry({
  console: process.env.MIG_TRACE_CONSOLE === '1',
  otlp: Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
});
const database = createDatabase({
  logger,
  pgliteDir: process.env.PGLITE_DATA_DIR || undefined,
  applicationName: process.env.APP_NAME || undefined,
  tracerProvider: telemetry.tracerProvider,
  meterProvider: telemetry.meterProvider,
});
// The configuration is read (and logged) now, so a bad value stops the server before it listens.
try {
  await database.configuration();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const app = createApp(database, { logger });

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  logger.info({ port: info.port, database: database.report().where }, `listening on http://127.0.0.1:${info.port}`);
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  server.close();
  await database.close();
  await telemetry.shutdown();
}
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
