import type { Attributes, Span } from '@opentelemetry/api';
import type { RateLimitMode } from '../http/rate-limit-mode.js';
import type { Decision } from '../limiter/decision.js';
import { defaultFailureLog } from './failure-log.js';
import { otelApiIfInstalled } from './peers.js';
import { decisionOutcome } from './rate-limit-metrics.js';

/** Span attributes set by `annotateRateLimit`; tollgate's own namespace, as semconv has none for this. */
export const RateLimitAttributes = {
  /** The limiter's name, when it has one. */
  LIMITER: 'tollgate.ratelimit.limiter',
  /** Labels of the limiter's policies, e.g. `['10-per-1s', '1000-per-1h']`. */
  POLICY: 'tollgate.ratelimit.policy',
  /** Capacity of the binding policy. */
  LIMIT: 'tollgate.ratelimit.limit',
  /** Whole tokens left in the binding policy's bucket. */
  REMAINING: 'tollgate.ratelimit.remaining',
  /** Whether the request was refused. */
  LIMITED: 'tollgate.ratelimit.limited',
  /** `allowed`, `limited`, `shadow_limited` or `store_error`, as the decisions metric's `outcome` label. */
  OUTCOME: 'tollgate.ratelimit.outcome',
  /** `shadow` for a limiter in `mode: 'shadow'` (which never refuses); absent when it enforces. */
  MODE: 'tollgate.ratelimit.mode',
  /** Who decided: `store`, or during an outage `local`, `open` or `closed`, as the metric's `source` label. */
  SOURCE: 'tollgate.ratelimit.source',
  /** Milliseconds until the request could succeed; only on a refused request. */
  RETRY_AFTER_MS: 'tollgate.ratelimit.retry_after_ms',
} as const;

/** The name of the span event added for each decision. */
export const RATE_LIMIT_EVENT = 'tollgate.ratelimit';

/**
 * Describes a rate-limit decision on the active span (the request's server span inside
 * `telemetry()`): attributes for the last decision, since that is the one that let the request
 * through or stopped it, and one `tollgate.ratelimit` event per decision, so a request that
 * passed several limiters shows each. The client key is never recorded. A shadow limiter's
 * decision is described as enforcement would be (`limited: true` when it would have refused),
 * with `outcome: shadow_limited` and `mode: shadow`. Never throws.
 */
export function annotateRateLimit(
  decision: Decision,
  limiter?: string,
  span: Span | undefined = otelApiIfInstalled()?.trace.getActiveSpan(),
  mode: RateLimitMode = 'enforce',
): void {
  if (span === undefined || !span.isRecording()) return;
  try {
    const attributes: Attributes = {
      [RateLimitAttributes.POLICY]: decision.policies.map((p) => p.policy.label),
      [RateLimitAttributes.LIMIT]: decision.limit,
      [RateLimitAttributes.REMAINING]: decision.remaining,
      [RateLimitAttributes.LIMITED]: !decision.allowed,
      [RateLimitAttributes.OUTCOME]: decisionOutcome(decision, mode),
      [RateLimitAttributes.SOURCE]: decision.source,
    };
    if (mode === 'shadow') attributes[RateLimitAttributes.MODE] = 'shadow';
    if (limiter !== undefined) attributes[RateLimitAttributes.LIMITER] = limiter;
    if (!decision.allowed) attributes[RateLimitAttributes.RETRY_AFTER_MS] = Math.ceil(decision.retryAfterMs);
    span.setAttributes(attributes);
    span.addEvent(RATE_LIMIT_EVENT, attributes);
  } catch (error) {
    defaultFailureLog.report('annotateRateLimit', error);
  }
}
