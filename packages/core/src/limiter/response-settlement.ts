import { type Duration, parseDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import type { Logger } from '../log.js';
import { assertKnownOptions, assertOptionsObject } from '../options/validate.js';
import { BoundedValues } from '../telemetry/bounded-values.js';
import { lazyFamily } from '../telemetry/registry.js';
import type { Decision } from './decision.js';
import { isPromiseLike } from './is-promise-like.js';
import type { RateLimiter, RateLimiterOptions } from './rate-limiter.js';

/**
 * What an HTTP limiter does once the response is known, and while a request waits: the
 * `rateLimit()` options of issue 16 items 4 and 6, in every adapter alike.
 */
export interface ResponseOptions {
  /** Give a request's tokens back once its response is a success (status below 400): count only failures, e.g. of logins. */
  skipSuccessfulRequests?: boolean;
  /** Give a request's tokens back once its response failed (status 400 or more, or the client went away first). */
  skipFailedRequests?: boolean;
  /**
   * Let a request beyond the bucket wait until a token is there instead of refusing it, for up to
   * `maxDelay` (ms or `'2s'`, …): refused only after that (like express-slow-down, on the bucket).
   * The wait is sent in `Server-Timing: ratelimit-delay;dur=<ms>` and observed in
   * `tollgate_ratelimit_delay_seconds`. Waiting requests hold no token; one whose client
   * disconnects leaves the line.
   */
  slowDown?: { maxDelay: Duration };
}

/** A limiter's options with these: what an HTTP limiter's options build on. */
export type LimiterResponseOptions<Req> = RateLimiterOptions<Req> & ResponseOptions;

export const RESPONSE_OPTIONS: readonly string[] = ['skipSuccessfulRequests', 'skipFailedRequests', 'slowDown'];

/** Called by an adapter once with the response's status, or undefined if the client went away before one was sent. */
export type ResponseDone = (status: number | undefined) => void;

/** The adapter's side: calls `done` once when the response to `req` has finished, or the connection closed first. */
export type WhenResponseDone<Req> = (req: Req, done: ResponseDone) => void;

/** The longest `slowDown.maxDelay`: a timer. */
const MAX_DELAY_MS = 2 ** 31 - 1;

const delays = lazyFamily(
  ({ Histogram }) =>
    new Histogram<'limiter'>({
      name: 'tollgate_ratelimit_delay_seconds',
      help: 'How long requests admitted by slowDown waited for their tokens, by limiter.',
      labelNames: ['limiter'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [],
    }),
);
const delayLabels = new BoundedValues(100);

/** Per request: what the response will settle. */
interface Pending {
  decision: Decision | undefined;
  refund: (() => void) | undefined;
  status: number | undefined | null;
  abort: AbortController | undefined;
}

/**
 * Decides requests for an HTTP limiter with `skipSuccessfulRequests`, `skipFailedRequests` and
 * `slowDown`: a wait instead of a refusal, and a refund once the adapter reports the status.
 * A refund is a receipt (at most once per request, never more than it took); a refund that fails
 * (the store down, or slower than `timeoutMs`) is logged, as the request is over.
 */
export class ResponseSettlement<Req> {
  readonly skipSuccessful: boolean;
  readonly skipFailed: boolean;
  readonly maxDelayMs: number | undefined;
  private readonly delays = new WeakMap<Decision, number>();

  constructor(
    opts: Record<string, unknown>,
    private readonly limiter: RateLimiter<Req>,
    private readonly logger: Logger,
    whenDone: WhenResponseDone<Req> | undefined,
  ) {
    this.skipSuccessful = flag(opts.skipSuccessfulRequests, 'skipSuccessfulRequests');
    this.skipFailed = flag(opts.skipFailedRequests, 'skipFailedRequests');
    if (opts.slowDown === undefined) this.maxDelayMs = undefined;
    else {
      const slow = assertOptionsObject(opts.slowDown, 'slowDown');
      assertKnownOptions(slow, new Set(['maxDelay']), 'slowDown');
      this.maxDelayMs = parseDuration(slow.maxDelay, 'slowDown.maxDelay');
      if (this.maxDelayMs > MAX_DELAY_MS) {
        throw new InvalidOptionError('slowDown.maxDelay', slow.maxDelay, 'accepted: at most 2^31-1 ms');
      }
    }
    if ((this.skipSuccessful || this.skipFailed) && whenDone === undefined) {
      throw new InvalidOptionError(
        this.skipSuccessful ? 'skipSuccessfulRequests' : 'skipFailedRequests',
        true,
        'this adapter cannot report response statuses to tollgate',
      );
    }
    this.whenDone = whenDone;
  }

  private readonly whenDone: WhenResponseDone<Req> | undefined;

  /** Whether any of the options is on (else `decide` is the limiter's own). */
  get active(): boolean {
    return this.skipSuccessful || this.skipFailed || this.maxDelayMs !== undefined;
  }

  /** Milliseconds `decision` waited under `slowDown` (0 if none). */
  delayOf(decision: Decision): number {
    return this.delays.get(decision) ?? 0;
  }

  decide(req: Req, key: string, cost: number): Decision | Promise<Decision> {
    const pending: Pending = { decision: undefined, refund: undefined, status: null, abort: undefined };
    if (this.whenDone !== undefined) this.whenDone(req, (status) => this.done(pending, status));
    if (this.maxDelayMs === undefined) {
      const decision = this.limiter.decide(key, cost, req);
      if (isPromiseLike(decision))
        return Promise.resolve(decision).then((d) => this.decided(pending, req, key, cost, d));
      return this.decided(pending, req, key, cost, decision);
    }
    pending.abort = new AbortController();
    return this.limiter
      .consumeWaiting(key, cost, { maxDelayMs: this.maxDelayMs, signal: pending.abort.signal }, req)
      .then((waited) => {
        if (waited.delayMs > 0) {
          this.delays.set(waited.decision, waited.delayMs);
          if (waited.decision.allowed) this.observe(waited.delayMs);
        }
        return this.decided(pending, req, key, cost, waited.decision);
      });
  }

  private decided(pending: Pending, req: Req, key: string, cost: number, decision: Decision): Decision {
    pending.decision = decision;
    if (this.skipSuccessful || this.skipFailed) {
      const receipt = this.limiter.receipt(key, cost, decision, req);
      if (receipt.refundable) {
        pending.refund = () => {
          receipt.refund().catch((error: unknown) => {
            this.logger.warn(
              { limiter: this.limiter.label, error: error instanceof Error ? error.message : String(error) },
              'tollgate: a refund (skipSuccessfulRequests/skipFailedRequests) could not be made; the request keeps its cost',
            );
          });
        };
      }
    }
    // The response may be over already (a client gone while it waited).
    if (pending.status !== null) this.settle(pending);
    return decision;
  }

  private done(pending: Pending, status: number | undefined): void {
    if (pending.status !== null) return;
    pending.status = status;
    if (status === undefined) pending.abort?.abort();
    if (pending.decision !== undefined) this.settle(pending);
  }

  private settle(pending: Pending): void {
    const { refund, status } = pending;
    if (refund === undefined) return;
    pending.refund = undefined;
    const success = typeof status === 'number' && status < 400;
    if ((success && this.skipSuccessful) || (!success && this.skipFailed)) refund();
  }

  private observe(delayMs: number): void {
    try {
      delays()
        ?.labels(delayLabels.label(this.limiter.label))
        .observe(delayMs / 1000);
    } catch {
      // Telemetry never fails a request.
    }
  }
}

function flag(value: unknown, option: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, value, 'accepted: true or false');
  return value;
}
