import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

let contextManagerSet = false;

/** Active spans need a context manager, as an SDK would register in an application. */
export function useAsyncContext(): void {
  if (contextManagerSet) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerSet = true;
}

class ManualReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export interface MetricPoint {
  readonly attributes: Record<string, unknown>;
  /** A counter's sum, or a histogram's { count, sum, min, max }. */
  readonly value: number | { count: number; sum: number; min?: number; max?: number };
}

/** In-memory exporter and reader, to assert spans and metrics. */
export function createTelemetryProbe() {
  useAsyncContext();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    spans: (): ReadableSpan[] => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    /** The finished spans as an indented tree: "name" plus " !ERROR(type)" for failed spans. */
    tree(): string {
      const spans = exporter.getFinishedSpans();
      const ids = new Set(spans.map((s) => s.spanContext().spanId));
      const children = new Map<string | undefined, ReadableSpan[]>();
      for (const span of spans) {
        const parent = span.parentSpanContext?.spanId;
        const key = parent && ids.has(parent) ? parent : undefined;
        children.set(key, [...(children.get(key) ?? []), span]);
      }
      const lines: string[] = [];
      const walk = (parent: string | undefined, depth: number) => {
        const list = (children.get(parent) ?? []).sort(
          (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
        );
        for (const span of list) {
          const failed = span.status.code === 2 ? ` !ERROR(${String(span.attributes['error.type'])})` : '';
          lines.push(`${'  '.repeat(depth)}${span.name}${failed}`);
          walk(span.spanContext().spanId, depth + 1);
        }
      };
      walk(undefined, 0);
      return lines.join('\n');
    },
    async metrics(name: string): Promise<MetricPoint[]> {
      const { resourceMetrics } = await reader.collect();
      const points: MetricPoint[] = [];
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const point of metric.dataPoints) {
            points.push({ attributes: { ...point.attributes }, value: point.value as MetricPoint['value'] });
          }
        }
      }
      return points;
    },
  };
}

export type TelemetryProbe = ReturnType<typeof createTelemetryProbe>;

export function findSpan(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span named ${name} among ${spans.map((s) => s.name).join(', ')}`);
  return span;
}
