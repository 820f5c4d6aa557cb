import type { Decision, DecisionSource, PolicyStatus } from '../limiter/decision.js';
import type { RateLimiter } from '../limiter/rate-limiter.js';
import type { RateLimitMode } from './rate-limit-mode.js';

export type { RateLimitMode } from './rate-limit-mode.js';

/**
 * One limiter's decision on a request, as the route handler reads it: `req.rateLimit` (Express),
 * `ctx.state.rateLimit` (Koa), `request.rateLimit` (Fastify), the last limiter's; and every
 * limiter's by name in `rateLimits`. The `Decision` fields, plus which limiter decided, the key
 * the request was counted under and its cost; `peek()` and `reset()` act on that bucket.
 */
export class RateLimitInfo implements Decision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  readonly resetMs: number;
  readonly retryAfterMs: number;
  readonly policies: readonly PolicyStatus[];
  readonly source: DecisionSource;
  /**
   * The limiter's name as the request's `rateLimits` holds it: its `name`, or the policy name
   * clients see for a Fastify route limit (`GET /login`), or for an unnamed limiter its policy id.
   */
  readonly name: string;
  /** The key this request was counted under (what `limiter.peek(key)` and `reset(key)` take): an IP (or IPv6 subnet), a token's digest, or your `key` function's answer. */
  readonly key: string;
  /** Tokens the request took (or would have). */
  readonly cost: number;
  /** `'shadow'` when the limiter only watches: then `allowed: false` means it would have refused. */
  readonly mode: RateLimitMode;
  readonly #limiter: RateLimiter;
  readonly #decidedAt: number;

  constructor(decision: Decision, name: string, key: string, cost: number, mode: RateLimitMode, limiter: RateLimiter) {
    this.allowed = decision.allowed;
    this.limit = decision.limit;
    this.remaining = decision.remaining;
    this.resetMs = decision.resetMs;
    this.retryAfterMs = decision.retryAfterMs;
    this.policies = decision.policies;
    this.source = decision.source;
    this.name = name;
    this.key = key;
    this.cost = cost;
    this.mode = mode;
    this.#limiter = limiter;
    this.#decidedAt = Date.now();
  }

  /** When the binding bucket is full again (express-rate-limit's `resetTime`). */
  get resetTime(): Date {
    return new Date(this.#decidedAt + this.resetMs);
  }

  /** This request's bucket now, without taking anything. */
  peek(): Promise<Decision> {
    return this.#limiter.peekWith(this.key, this);
  }

  /** Refills this request's bucket (say, after a successful login). */
  reset(): Promise<void> {
    return this.#limiter.reset(this.key);
  }
}

/** Where an adapter keeps the decisions on a request: the request itself, or Koa's `ctx.state`. */
export interface RateLimitHolder {
  /** The last limiter's decision on this request. */
  rateLimit?: RateLimitInfo | null;
  /** Every limiter's decision on this request, by `RateLimitInfo.name`. */
  rateLimits?: Record<string, RateLimitInfo> | null;
}

/** Puts a decision on the request: as `rateLimit` (the last one) and under its name in `rateLimits`. */
export function holdDecision(holder: RateLimitHolder, info: RateLimitInfo): void {
  holder.rateLimit = info;
  // Without a prototype: a limiter name is never read as an inherited property.
  holder.rateLimits ??= Object.create(null) as Record<string, RateLimitInfo>;
  holder.rateLimits[info.name] = info;
}
