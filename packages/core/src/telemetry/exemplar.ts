import { context, isSpanContextValid, type SpanContext, TraceFlags, trace } from '@opentelemetry/api';

/** Exemplar labels, named as Prometheus and Grafana expect them to link a sample to its trace. */
export type ExemplarLabels = { trace_id: string; span_id: string };

/**
 * The exemplar for an observation made in `spanContext` (default: the active span's). Only a
 * sampled span gets one: an exemplar pointing at a trace that was never exported is a dead link.
 */
export function exemplarFor(
  spanContext: SpanContext | undefined = trace.getSpanContext(context.active()),
): ExemplarLabels | undefined {
  if (spanContext === undefined || !isSpanContextValid(spanContext)) return undefined;
  if ((spanContext.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
