import { renderSpanTree } from '@mig/core/adapter';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

type ExportResult = { code: 0 | 1; error?: Error };

/**
 * A console exporter a person can read: when a trace's root span ends, prints the whole trace as an
 * indented tree with durations and the attributes that matter.
 */
export class TreeConsoleExporter implements SpanExporter {
  readonly #pending = new Map<string, ReadableSpan[]>();
  readonly #print: (tree: string) => void;

  constructor(print: (tree: string) => void = (tree) => process.stderr.write(`${tree}\n`)) {
    this.#print = print;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const traceId = span.spanContext().traceId;
      const list = [...(this.#pending.get(traceId) ?? []), span];
      this.#pending.set(traceId, list);
      if (!span.parentSpanContext) {
        this.#pending.delete(traceId);
        this.#print(renderSpanTree(list, line));
      }
    }
    done({ code: 0 });
  }

  async shutdown(): Promise<void> {
    this.#pending.clear();
  }

  async forceFlush(): Promise<void> {}
}

function ms(span: ReadableSpan): number {
  return span.duration[0] * 1e3 + span.duration[1] / 1e6;
}

/** What to show next to a span's name. */
function detail(span: ReadableSpan): string {
  const a = span.attributes;
  const parts: string[] = [];
  if (a['mig.migration.name']) parts.push(String(a['mig.migration.name']));
  if (a['mig.status.cached'] !== undefined) parts.push(a['mig.status.cached'] ? 'from cache' : 'from database');
  if (a['mig.status.state']) parts.push(`${String(a['mig.status.state'])}`);
  if (a['mig.status.pending_count'] !== undefined && span.name !== 'mig.status.check') {
    parts.push(`${String(a['mig.status.pending_count'])} pending`);
  }
  if (a['mig.lock.strategy']) parts.push(String(a['mig.lock.strategy']));
  if (a['mig.lock.attempts'] !== undefined && Number(a['mig.lock.attempts']) > 1)
    parts.push(`${String(a['mig.lock.attempts'])} attempts`);
  if (a['mig.outcome']) parts.push(`outcome ${String(a['mig.outcome'])}`);
  if (span.status.code === 2) parts.push(`ERROR ${String(a['error.type'] ?? '')}`.trim());
  return parts.length > 0 ? `  (${parts.join(', ')})` : '';
}

/** One span of the tree: its name indented, its duration, and the attributes that matter. */
function line(span: ReadableSpan, indent: string): string {
  return `${`${indent}${span.name}`.padEnd(28)} ${ms(span).toFixed(1).padStart(8)} ms${detail(span)}`;
}

export interface Telemetry {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  readonly serviceName?: string;
  /** Print each trace as a tree (the demo does). */
  readonly console?: boolean | ((tree: string) => void);
  /** Send traces over OTLP/HTTP; the standard OTEL_EXPORTER_OTLP_* variables configure the exporter. */
  readonly otlp?: boolean;
}

/**
 * The OpenTelemetry SDK for this app: an async context manager (so spans nest), a tracer provider with
 * the tree console exporter and/or OTLP, and a meter provider. The mig packages only use the API.
 */
export function setupTelemetry(options: TelemetryOptions = {}): Telemetry {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const spanProcessors: SpanProcessor[] = [];
  if (options.console) {
    const print = typeof options.console === 'function' ? options.console : undefined;
    spanProcessors.push(new SimpleSpanProcessor(new TreeConsoleExporter(print)));
  }
  if (options.otlp) spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  const resource = resourceFromAttributes({ 'service.name': options.serviceName ?? 'example-api' });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors });
  trace.setGlobalTracerProvider(tracerProvider);
  const meterProvider = new MeterProvider({ resource });
  return {
    tracerProvider,
    meterProvider,
    async shutdown() {
      await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
    },
  };
}
