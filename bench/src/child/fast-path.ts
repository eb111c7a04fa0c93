// The ready fast path, in a process of its own so that "OpenTelemetry SDK registered" can mean registered
// globally, as an application does it, without switching the other variant on too (the API's proxies
// follow the global registration).
import { parseArgs } from 'node:util';
import { createPgDialect } from '@mig/kysely-adapter/pg';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Kysely } from 'kysely';
import { migMigrator, migService } from '../compose.js';
import { countStatements, emit, failed } from './protocol.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    dir: { type: 'string' },
    otel: { type: 'string', default: 'none' },
    batches: { type: 'string', default: '20' },
    calls: { type: 'string', default: '1000000' },
  },
});
const url = values.url as string;
const batches = Number(values.batches);
const calls = Number(values.calls);

/** A reader collected on demand: it proves the meter provider is live without a timer in the loop. */
class OnDemandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const spans = new InMemorySpanExporter();
const reader = new OnDemandReader();
let shutdown = async () => {};
if (values.otel === 'sdk') {
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const meterProvider = new MeterProvider({ readers: [reader] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  shutdown = async () => {
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  };
}

let sink: unknown;

/**
 * `calls` back-to-back calls; returns nanoseconds per call. The result goes to a module-level sink and is
 * checked, so the compiler cannot drop the calls.
 */
function spin(call: () => Promise<unknown>, expected: Promise<unknown>): number {
  let last: Promise<unknown> | undefined;
  const started = performance.now();
  for (let i = 0; i < calls; i++) last = call();
  const elapsed = performance.now() - started;
  if (last !== expected) throw new Error('the ready fast path returned a different promise');
  sink = last;
  return (elapsed * 1e6) / calls;
}

try {
  const statements = countStatements();
  const db = new Kysely<any>({ dialect: createPgDialect({ url, max: 2 }) });
  const migrator = (conn: Kysely<any>) => migMigrator(conn, values.dir as string, { url });
  const cached = migService(db, { migrator });
  // Same pool, so only one of the two services ends it.
  const uncached = migService(db, { migrator, cache: false, disconnect: false });
  await Promise.all([cached.ensureInitialized(), uncached.ensureInitialized()]);
  // Once ready, every call returns the one promise the service keeps for serving.
  const services = [
    { name: 'cache', service: cached, ready: cached.ensureInitialized() },
    { name: 'noCache', service: uncached, ready: uncached.ensureInitialized() },
  ];
  const results: Record<string, number[]> = { cache: [], noCache: [] };
  const before = statements.count;
  const warmup = 3;
  for (let b = 0; b < warmup + batches; b++) {
    const order = b % 2 === 0 ? services : [...services].reverse();
    for (const s of order) {
      const call = () => s.service.ensureInitialized();
      const ns = spin(call, s.ready);
      if (b >= warmup) results[s.name]?.push(ns);
    }
    // Let pending I/O callbacks run between batches, as a server's event loop would.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const statementsInLoops = statements.count - before;
  const collected = values.otel === 'sdk' ? await reader.collect() : undefined;
  const metricPoints =
    collected?.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).reduce((n, m) => n + m.dataPoints.length, 0) ?? 0;
  emit('result', {
    otel: values.otel,
    // The API always hands out its proxy; what it delegates to shows whether the SDK is the one answering.
    tracerProvider: (trace.getTracerProvider() as { getDelegate?: () => object }).getDelegate?.().constructor.name,
    cache: results.cache,
    noCache: results.noCache,
    calls: calls * batches,
    statementsInLoops,
    spans: spans.getFinishedSpans().map((s) => s.name),
    metricPoints,
    sinkSet: sink !== undefined,
  });
  await uncached.close();
  await cached.close();
  await shutdown();
} catch (error) {
  failed(error);
}
