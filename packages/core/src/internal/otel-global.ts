import type {
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  ObservableCounter,
  Span,
  SpanContext,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';

// mig reaches OpenTelemetry through the API's global registry, without importing the API at start-up: a
// service that uses no OpenTelemetry then loads none of it (its ~100 modules are a tenth of a cold start),
// and one that registers an SDK is traced as usual. Every copy of @opentelemetry/api 1.x in a process keeps
// its globals (the tracer provider, the meter provider) on this one symbol; that is how copies agree.

const API_REGISTRY = Symbol.for('opentelemetry.js.api.1');

interface ApiRegistry {
  readonly trace?: TracerProvider;
  readonly metrics?: MeterProvider;
}

function registry(): ApiRegistry | undefined {
  return (globalThis as Record<symbol, ApiRegistry | undefined>)[API_REGISTRY];
}

/**
 * The global tracer, looked up on each use until an SDK has registered one (as the API's own proxy does, so
 * a service created before the SDK is registered is still traced), and a no-op until then.
 */
export function globalTracer(name: string, version: string): Tracer {
  let found: Tracer | undefined;
  const current = (): Tracer => {
    if (found) return found;
    const provider = registry()?.trace;
    if (!provider) return NOOP_TRACER;
    found = provider.getTracer(name, version);
    return found;
  };
  return {
    startSpan: (...args: Parameters<Tracer['startSpan']>) => current().startSpan(...args),
    startActiveSpan: ((...args: unknown[]) =>
      (current().startActiveSpan as (...a: unknown[]) => unknown)(...args)) as Tracer['startActiveSpan'],
  };
}

/** The global meter, or a no-op one when no SDK has registered a meter provider (as the API itself does). */
export function globalMeter(name: string, version: string): Meter {
  return registry()?.metrics?.getMeter(name, version) ?? NOOP_METER;
}

const INVALID_CONTEXT: SpanContext = Object.freeze({
  traceId: '00000000000000000000000000000000',
  spanId: '0000000000000000',
  traceFlags: 0,
});

const NOOP_SPAN: Span = {
  spanContext: () => INVALID_CONTEXT,
  setAttribute: () => NOOP_SPAN,
  setAttributes: () => NOOP_SPAN,
  addEvent: () => NOOP_SPAN,
  addLink: () => NOOP_SPAN,
  addLinks: () => NOOP_SPAN,
  setStatus: () => NOOP_SPAN,
  updateName: () => NOOP_SPAN,
  end: () => {},
  isRecording: () => false,
  recordException: () => {},
};

const NOOP_TRACER: Tracer = {
  startSpan: () => NOOP_SPAN,
  startActiveSpan: ((...args: unknown[]) => {
    const fn = args[args.length - 1] as (span: Span) => unknown;
    return fn(NOOP_SPAN);
  }) as Tracer['startActiveSpan'],
};

const NOOP_INSTRUMENT = { add() {}, record() {}, addCallback() {}, removeCallback() {} };

const NOOP_METER: Meter = {
  createCounter: () => NOOP_INSTRUMENT as unknown as Counter,
  createUpDownCounter: () => NOOP_INSTRUMENT as never,
  createHistogram: () => NOOP_INSTRUMENT as unknown as Histogram,
  createGauge: () => NOOP_INSTRUMENT as never,
  createObservableCounter: () => NOOP_INSTRUMENT as unknown as ObservableCounter,
  createObservableGauge: () => NOOP_INSTRUMENT as never,
  createObservableUpDownCounter: () => NOOP_INSTRUMENT as never,
  addBatchObservableCallback: () => {},
  removeBatchObservableCallback: () => {},
};
