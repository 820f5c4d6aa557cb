import { HttpException } from '@nestjs/common';
import type { Decision } from '@tollgate/core';
import type { Outcome } from '@tollgate/core/adapter';

type Refusal = Extract<Outcome, { action: 'reject' }>;

/**
 * What the guard throws for a refused request: 429 over the limit (503 when the store is down
 * and `failMode` is `'closed'`, 500 when the platform gave no client address). The RateLimit and
 * Retry-After headers and `Content-Type: application/problem+json` are already on the response,
 * and `getResponse()` is the RFC 9457 problem details object, so Nest's own exception filter
 * sends the same response as every tollgate adapter. An exception filter of the app that catches
 * it (`@Catch(RateLimitRefusedException)`, or a catch-all) answers instead, as for any other
 * `HttpException`; one that sends a body of another kind sets its own Content-Type.
 */
export class RateLimitRefusedException extends HttpException {
  /** The limiter's decision (undefined for the 500 of an unknown client address). */
  readonly decision: Decision | undefined;
  /** `application/problem+json`. */
  readonly contentType: string;
  /** The problem details, serialized as every adapter sends them. */
  readonly body: string;

  constructor(refusal: Refusal) {
    super(JSON.parse(refusal.body) as Record<string, unknown>, refusal.status);
    this.name = 'RateLimitRefusedException';
    this.decision = refusal.decision;
    this.contentType = refusal.contentType;
    this.body = refusal.body;
  }
}
