import { renderSpanTree } from '@mig/core/adapter';
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
    tree: (): string =>
      renderSpanTree(exporter.getFinishedSpans(), (span, indent) => {
        const failed = span.status.code === 2 ? ` !ERROR(${String(span.attributes['error.type'])})` : '';
        return `${indent}${span.name}${failed}`;
      }),
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
