import { context, propagation, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/**
 * The real SDK, registered globally as an app registers its own, with spans kept in memory as
 * each one ends. Core needs no setup call of its own: its spans go to whatever provider is global.
 */
export interface InMemoryTracing {
  readonly exporter: InMemorySpanExporter;
  readonly tracerProvider: NodeTracerProvider;
  spans(): ReadableSpan[];
  span(name: string): ReadableSpan;
  /** Shuts the provider down and unregisters it (and its propagator and context manager). */
  shutdown(): Promise<void>;
}

export function startInMemoryTracing(serviceName = 'tollgate-test'): InMemoryTracing {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  tracerProvider.register();
  return {
    exporter,
    tracerProvider,
    spans: () => exporter.getFinishedSpans(),
    span(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`expected one span named ${name}, found ${found.length}`);
      return found[0] as ReadableSpan;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
