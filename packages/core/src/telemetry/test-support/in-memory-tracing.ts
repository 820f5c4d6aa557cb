import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { setupTelemetry, type TelemetryHandle } from '../setup.js';

/** The real SDK, registered globally, with spans kept in memory as each one ends. */
export interface InMemoryTracing {
  readonly exporter: InMemorySpanExporter;
  readonly handle: TelemetryHandle;
  spans(): ReadableSpan[];
  span(name: string): ReadableSpan;
  shutdown(): Promise<void>;
}

export function startInMemoryTracing(serviceName = 'tollgate-test'): InMemoryTracing {
  const exporter = new InMemorySpanExporter();
  const handle = setupTelemetry({ serviceName, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return {
    exporter,
    handle,
    spans: () => exporter.getFinishedSpans(),
    span(name) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name);
      if (found.length !== 1) throw new Error(`expected one span named ${name}, found ${found.length}`);
      return found[0] as ReadableSpan;
    },
    shutdown: () => handle.shutdown(),
  };
}
