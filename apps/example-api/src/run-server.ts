// The example API's server, started by `src/server.ts` (migrations from the folder) and by `src/bundled.ts`
// (the bundled build: migrations from the module `mig bundle` wrote). Configuration through the environment
// (DATABASE_URL, AUTO_MIGRATE, …) or a mig.config.* file; PORT (default 3000).
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { createDatabase, type DatabaseOptions } from './lib/database.js';
import { createLogger } from './lib/logger.js';
import { setupTelemetry } from './lib/telemetry.js';

/** Starts the server; stops it on SIGTERM and SIGINT, closing the database service first. */
export async function runServer(options: Pick<DatabaseOptions, 'migrations'> = {}): Promise<void> {
  const logger = createLogger({ level: (process.env.LOG_LEVEL as 'debug' | 'info' | undefined) ?? 'info' });
  const telemetry = setupTelemetry({
    console: process.env.MIG_TRACE_CONSOLE === '1',
    otlp: Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
  });
  const database = createDatabase({
    ...options,
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
}
