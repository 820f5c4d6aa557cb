import type { SpanContext } from '@opentelemetry/api';
import { otelApiIfInstalled } from './peers.js';

/** Exemplar labels, named as Prometheus and Grafana expect them to link a sample to its trace. */
export type ExemplarLabels = { trace_id: string; span_id: string };

/**
 * The exemplar for an observation made in `spanContext` (default: the active span's). Only a
 * sampled span gets one: an exemplar pointing at a trace that was never exported is a dead link.
 * None without `@opentelemetry/api`: no span can exist then.
 */
export function exemplarFor(spanContext?: SpanContext): ExemplarLabels | undefined {
  const api = otelApiIfInstalled();
  if (api === undefined) return undefined;
  const context = spanContext ?? api.trace.getSpanContext(api.context.active());
  if (context === undefined || !api.isSpanContextValid(context)) return undefined;
  if ((context.traceFlags & api.TraceFlags.SAMPLED) === 0) return undefined;
  return { trace_id: context.traceId, span_id: context.spanId };
}
