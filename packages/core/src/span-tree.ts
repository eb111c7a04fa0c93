/** The slice of a finished span that {@link renderSpanTree} reads; the OpenTelemetry SDK's `ReadableSpan` has it. */
export interface SpanTreeNode {
  readonly name: string;
  /** `[seconds, nanoseconds]`, as OpenTelemetry's `HrTime`. */
  readonly startTime: readonly [number, number];
  spanContext(): { readonly spanId: string };
  readonly parentSpanContext?: { readonly spanId: string } | undefined;
}

/**
 * Finished spans as an indented tree, two spaces a level, children in start order under their parent; a
 * span whose parent is not among `spans` is a root. `line` writes one span (default: its name).
 *
 * @example
 * renderSpanTree(exporter.getFinishedSpans());
 * // mig.initialize
 * //   mig.connect
 * //   mig.status.check
 */
export function renderSpanTree<S extends SpanTreeNode>(
  spans: readonly S[],
  line: (span: S, indent: string) => string = (span, indent) => `${indent}${span.name}`,
): string {
  const ids = new Set(spans.map((span) => span.spanContext().spanId));
  const children = new Map<string | undefined, S[]>();
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent !== undefined && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, indent: string) => {
    const list = [...(children.get(parent) ?? [])].sort(
      (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
    );
    for (const span of list) {
      lines.push(line(span, indent));
      walk(span.spanContext().spanId, `${indent}  `);
    }
  };
  walk(undefined, '');
  return lines.join('\n');
}
