import { ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import type { Decision } from '../limiter/decision.js';
import { isPromiseLike } from '../limiter/is-promise-like.js';
import { RATE_LIMITER_OPTIONS, RateLimiter, type RateLimiterOptions } from '../limiter/rate-limiter.js';
import {
  type LimiterResponseOptions,
  RESPONSE_OPTIONS,
  ResponseSettlement,
  type WhenResponseDone,
} from '../limiter/response-settlement.js';
import { consoleLogger, type Logger } from '../log.js';
import { assertKnownOptions, assertOptionsObject, oneOf, optionalFunction, ownOptions } from '../options/validate.js';
import { Throttle } from '../stores/throttle.js';
import { countDecisionsAs } from '../telemetry/rate-limit-metrics.js';
import { annotateRateLimit } from '../telemetry/rate-limit-span.js';
import { bearerToken, ipKey, tokenKey } from './client-key.js';
import {
  type Contribution,
  HEADER_MODES,
  type HeaderList,
  type HeaderMode,
  rateLimitHeaders,
  retryAfterSeconds,
  SoloHeaders,
} from './headers.js';
import { PROBLEM_CONTENT_TYPE, quotaExceededBody, storeUnavailableBody } from './problem.js';
import { holdDecision, type RateLimitHolder, RateLimitInfo } from './rate-limit-info.js';
import type { RateLimitMode } from './rate-limit-mode.js';

type MaybePromise<T> = T | Promise<T>;

/** The options every adapter's `rateLimit()` takes; `Req` is the framework's request. */
export type HttpRateLimitOptions<Req, Handler> = LimiterResponseOptions<Req> & {
  /** `'ip'` (default), `'token'` (Bearer or X-API-Key, hashed; the IP when absent), or a function. */
  key?: 'ip' | 'token' | ((req: Req) => MaybePromise<string>);
  /** Tokens a request takes (default 1), or a function of the request. */
  cost?: number | ((req: Req) => MaybePromise<number>);
  /** Requests for which this returns true are not limited and get no headers. */
  skip?: (req: Req) => MaybePromise<boolean>;
  /**
   * Header fields to send: `'draft-11'` (also `true`), `'draft-7'`, `'draft-6'`, `'legacy'`, or
   * `false`. Default: `'draft-11'`, and `false` in `mode: 'shadow'`.
   */
  headers?: HeaderMode | boolean;
  /**
   * `'enforce'` (default) refuses over the limit. `'shadow'` decides, counts and annotates spans
   * as enforcement would, but lets every request through: a would-be refusal is counted as
   * `outcome="shadow_limited"`, calls `onWouldLimit`, and is sampled in the log (a line a minute
   * at most). Header fields only if `headers` asks for them (never `Retry-After`).
   */
  mode?: RateLimitMode;
  /** Sends the response for a refused request instead of the default problem+json body. */
  handler?: Handler;
  /** IPv6 clients are grouped by this prefix length (default 64). */
  ipv6Subnet?: number;
  /**
   * Called once per request refused with 429, before the refusal is sent. Not awaited: an async
   * hook never holds the response. A hook that throws or rejects is logged (at most once a
   * minute per limiter), never fails the request.
   */
  onLimited?: RateLimitHook<Req>;
  /** As `onLimited`, for a request a limiter in `mode: 'shadow'` would have refused (and let through). */
  onWouldLimit?: RateLimitHook<Req>;
};

/** `onLimited(req, decision)`: `decision` is what the handler would read as `req.rateLimit`. */
export type RateLimitHook<Req> = (req: Req, decision: RateLimitInfo) => unknown;

/** How an adapter reads its framework's request. */
export interface RequestReader<Req> {
  /** The client address as the framework reports it (its trust-proxy setting applied), if known. */
  ip(req: Req): string | undefined;
  /** A header's value by lower-case name; the first, if repeated. */
  header(req: Req, name: string): string | undefined;
  /**
   * Where the route handler finds the decision (`rateLimit`, and `rateLimits` by limiter name):
   * the request itself, or Koa's `ctx.state`. Without it, the decision is only in the `Outcome`.
   */
  holder?(req: Req): RateLimitHolder;
  /**
   * Calls `done` once with the response's status when it has finished, or with undefined when the
   * client went away first: refunds (`skipSuccessfulRequests`, `skipFailedRequests`) and the end
   * of a `slowDown` wait depend on it.
   */
  whenDone?: WhenResponseDone<Req>;
}

/** How an adapter presents a limiter it named itself, e.g. a Fastify route limit. */
export interface HttpLimiterDisplay {
  /**
   * The policy name clients see (header items, `violated-policies`) instead of the limiter's
   * `name`: the route, say `GET /api/login`, where the name must also be unique in store keys.
   * Printable ASCII without `"` or `\\`, so it is a valid Structured Field string as it is.
   */
  readonly policyName?: string;
}

/** What the adapter should do with the request. */
export type Outcome =
  | { readonly action: 'next'; readonly headers: HeaderList; readonly decision: Decision | undefined }
  | {
      readonly action: 'reject';
      readonly status: 429 | 503;
      readonly headers: HeaderList;
      readonly contentType: string;
      readonly body: string;
      readonly decision: Decision;
    }
  | {
      /** `key: 'ip'` (or `'token'` without a token) and the framework gave no client address. */
      readonly action: 'reject';
      readonly status: 500;
      readonly headers: HeaderList;
      readonly contentType: string;
      readonly body: string;
      readonly decision: undefined;
    };

const OWN_OPTIONS = [
  'key',
  'cost',
  'skip',
  'headers',
  'handler',
  'ipv6Subnet',
  'onLimited',
  'mode',
  'onWouldLimit',
  ...RESPONSE_OPTIONS,
];
const HTTP_OPTIONS = new Set([...RATE_LIMITER_OPTIONS, ...OWN_OPTIONS]);

/** How often, at most, a failing hook, or a shadow limiter's would-be refusals, are logged again (per limiter). */
const HOOK_LOG_MS = 60_000;

/**
 * The mode of the HTTP limiters built in this process, by limiter label: the decisions metric
 * counts by label, so a shadow and an enforcing limiter under one label would blur
 * `shadow_limited` and `limited`. Building the second one warns.
 */
const labelModes = new Map<string, RateLimitMode>();
const SKIPPED: Outcome = Object.freeze({ action: 'next', headers: [], decision: undefined });

/** How often, at most, refusals of requests without a client address are logged again. */
const UNKNOWN_CLIENT_LOG_MS = 60_000;

const UNKNOWN_CLIENT_MESSAGE =
  'tollgate: refused a request whose client address is unknown (500), rather than putting every such ' +
  'request in one shared bucket. The app is most likely on a Unix socket or behind a proxy it does not ' +
  "trust: tell the framework to trust the proxy (Express: app.set('trust proxy', 1); Koa: app.proxy = true " +
  "and app.maxIpsCount = 1; Fastify: Fastify({ trustProxy: '<proxy address>' }); Hono and the Fetch API: " +
  'rateLimit({ trustProxy: 1 }), or getConnInfo / clientAddress where the runtime passes no address, as ' +
  'Next.js does), or give rateLimit a `key` function.';

/**
 * The response to a request that has no client address. Why not let it through unlimited, or
 * limit it under one shared key? A shared key lets one client exhaust the limit for every
 * other such client (the whole site, for an app on a Unix socket behind a proxy it was not told
 * to trust), and letting it through turns that deployment mistake into a silent bypass of the
 * limit: a login limiter that limits nothing. Refusing makes the mistake visible on the first
 * request, and the log line says how to fix it. A 500, since the fault is the server's: over
 * TCP every client has an address, so a client cannot bring this about for itself (the other
 * case is a connection already gone, whose response nobody reads).
 */
const UNKNOWN_CLIENT_BODY = JSON.stringify({
  type: 'about:blank',
  title: 'Internal Server Error',
  status: 500,
  detail: 'The server cannot identify the client to apply its rate limit.',
});

/** Decisions already made on a request, by every limiter it passed through. */
const contributions = new WeakMap<object, Contribution[]>();

/**
 * Limiters in this process that send header fields. While there is only one, no request can
 * pass through two, so nothing needs recording for stacking: the WeakMap entry per request
 * (the costliest step of a decision on a memory store) is skipped. A property on the request
 * would be cheaper in Fastify, but costs microseconds on Express's re-prototyped requests.
 */
let headerLimiters = 0;

/**
 * The framework-neutral part of `rateLimit()`: validates the options once, then turns each
 * request into an outcome that the adapter only has to write out.
 */
export class HttpRateLimiter<Req extends object, Handler = unknown> {
  readonly limiter: RateLimiter;
  readonly handler: Handler | undefined;
  /**
   * Whether `reader.whenDone` will be called (refunds or `slowDown` are on). An adapter that must
   * keep per-request state for it can skip that state when not: a WeakMap entry per request was
   * two thirds of the Fastify adapter's cost, in garbage collection (ephemerons).
   */
  readonly watchesResponses: boolean;
  private readonly reader: RequestReader<Req>;
  /** Returns undefined only for the built-in keys, when the client address is unknown. */
  private readonly key: (req: Req) => MaybePromise<string | undefined>;
  private readonly builtInKey: boolean;
  private readonly logger: Logger;
  private unknownClients = { refused: 0, unlogged: 0, lastLog: Number.NEGATIVE_INFINITY };
  private readonly cost: number | ((req: Req) => MaybePromise<number>);
  private readonly skip: ((req: Req) => MaybePromise<boolean>) | undefined;
  private readonly headerMode: HeaderMode | undefined;
  private readonly names: readonly string[];
  /** Refunds once the status is known, and slow-down waits; undefined when neither is asked for. */
  private readonly settlement: ResponseSettlement<Req> | undefined;
  /** This limiter's name in the request's `rateLimits`. */
  private readonly displayName: string;
  private readonly solo: SoloHeaders | undefined;
  private readonly onLimited: RateLimitHook<Req> | undefined;
  private readonly onWouldLimit: RateLimitHook<Req> | undefined;
  private readonly mode: RateLimitMode;
  private readonly logThrottle = new Throttle(HOOK_LOG_MS);
  /**
   * Whether the decisions metric counts in this limiter's mode yet: set on its first request, not
   * when built, so a limiter built only to check options (Fastify's `global: false` defaults)
   * never changes how another limiter's decisions are counted.
   */
  private readonly modeCounted = { done: false };

  constructor(options: HttpRateLimitOptions<Req, Handler>, reader: RequestReader<Req>, display?: HttpLimiterDisplay) {
    // Own properties only (a null-prototype copy): an option the caller did not give is undefined
    // even when Object.prototype has been polluted (`skip`, `cost`, `burst`, ...).
    const opts = assertOptionsObject(options, 'rateLimit');
    assertKnownOptions(opts, HTTP_OPTIONS, 'rateLimit');
    const { key, cost, skip, headers, handler, ipv6Subnet, onLimited, mode, onWouldLimit } = opts;
    const limiterOptions = ownOptions(opts);
    for (const option of OWN_OPTIONS) delete limiterOptions[option];
    this.limiter = new RateLimiter(limiterOptions as unknown as RateLimiterOptions);
    this.reader = reader;
    this.key = this.parseKey(key, parseSubnet(ipv6Subnet));
    this.builtInKey = typeof key !== 'function';
    // Already validated by the RateLimiter.
    this.logger = (limiterOptions.logger as Logger | undefined) ?? consoleLogger;
    const settlement = new ResponseSettlement(opts, this.limiter as RateLimiter<Req>, this.logger, reader.whenDone);
    this.settlement = settlement.active ? settlement : undefined;
    this.watchesResponses = settlement.active;
    this.cost = parseCost(cost, this.limiter);
    this.skip = optionalFunction(skip, 'skip');
    this.handler = optionalFunction<Handler>(handler, 'handler');
    this.onLimited = optionalFunction<RateLimitHook<Req>>(onLimited, 'onLimited');
    this.onWouldLimit = optionalFunction<RateLimitHook<Req>>(onWouldLimit, 'onWouldLimit');
    this.mode = mode === undefined ? 'enforce' : oneOf(mode, 'mode', ['enforce', 'shadow'] as const);
    // A shadow limiter sends no header fields unless asked: clients must not act on a limit not yet in force.
    const sent = headers === undefined ? this.mode === 'enforce' : headers;
    this.headerMode = sent === true ? 'draft-11' : sent === false ? undefined : oneOf(sent, 'headers', HEADER_MODES);
    const { policies } = this.limiter;
    const name = display?.policyName === undefined ? this.limiter.name : sfStringContent(display.policyName);
    this.displayName = name ?? this.limiter.label;
    this.names = policies.map((p) =>
      name === undefined ? p.label : policies.length === 1 ? name : `${name}.${p.label}`,
    );
    if (this.headerMode === undefined) {
      this.solo = undefined;
    } else {
      this.solo = new SoloHeaders(this.headerMode, this.names, policies);
      headerLimiters += 1;
    }
    // The parsed configuration is final: nothing can swap the key, cost or skip of a built limiter.
    Object.freeze(this.names);
    Object.freeze(this);
  }

  /**
   * Decides one request: skip, key, cost, the limiter's decision, and the headers and body to
   * send. Synchronous when every step is (built-in key, fixed cost, memory store): the common
   * request then costs no promise. Otherwise a native Promise, so adapters tell the two apart
   * with `instanceof Promise`. A synchronous step that throws throws here.
   */
  handle(req: Req): Outcome | Promise<Outcome> {
    if (!this.modeCounted.done) this.countIn(this.mode);
    if (this.skip === undefined) return this.keyed(req);
    const skip = this.skip(req);
    if (isPromiseLike(skip)) return Promise.resolve(skip).then((s) => (s === true ? SKIPPED : this.keyed(req)));
    return skip === true ? SKIPPED : this.keyed(req);
  }

  private keyed(req: Req): Outcome | Promise<Outcome> {
    const key = this.key(req);
    if (isPromiseLike(key)) return Promise.resolve(key).then((k) => this.costed(req, k));
    return this.costed(req, key);
  }

  private costed(req: Req, key: string | undefined): Outcome | Promise<Outcome> {
    if (key === undefined && this.builtInKey) return this.unknownClient();
    if (typeof key !== 'string' || key.length === 0) {
      throw new TollgateError(ErrorCodes.INVALID_KEY, 'tollgate: the `key` function must return a non-empty string');
    }
    if (typeof this.cost === 'number') return this.decided(req, key, this.cost, this.decide(req, key, this.cost));
    const cost = this.cost(req);
    if (isPromiseLike(cost)) {
      return Promise.resolve(cost).then((c) => this.decided(req, key, c, this.decide(req, key, c)));
    }
    return this.decided(req, key, cost, this.decide(req, key, cost));
  }

  /** The limiter's decision, with the request for per-request limits; waiting or refundable if asked. */
  private decide(req: Req, key: string, cost: number): Decision | Promise<Decision> {
    if (this.settlement !== undefined) return this.settlement.decide(req, key, cost);
    return (this.limiter as RateLimiter<Req>).decide(key, cost, req);
  }

  /** A slowed-down request says how long it waited (`Server-Timing`, as a browser's devtools show it). */
  private delayed(outcome: Outcome, decision: Decision): Outcome {
    const ms = this.settlement?.delayOf(decision) ?? 0;
    if (ms === 0) return outcome;
    return { ...outcome, headers: [...outcome.headers, ['Server-Timing', `ratelimit-delay;dur=${ms}`]] };
  }

  /** The names clients see for a decision's policies: fixed, or for per-request limits the decision's own. */
  private namesOf(decision: Decision): readonly string[] {
    if (!this.limiter.perRequest) return this.names;
    const { policies } = decision;
    return policies.map((s) => (policies.length === 1 ? this.displayName : `${this.displayName}.${s.policy.label}`));
  }

  private decided(
    req: Req,
    key: string,
    cost: number,
    decision: Decision | Promise<Decision>,
  ): Outcome | Promise<Outcome> {
    if (isPromiseLike(decision)) {
      return Promise.resolve(decision).then((d) => this.delayed(this.outcome(req, key, cost, d), d));
    }
    return this.outcome(req, key, cost, decision);
  }

  /**
   * The key `req` is counted under, as `handle` derives it (`key: 'ip'`, `'token'` or your
   * function): what `limiter.peek(key)` and `limiter.reset(key)` take. Undefined when a built-in
   * key finds no client address.
   */
  async keyFor(req: Req): Promise<string | undefined> {
    const key = await this.key(req);
    if (key === undefined && this.builtInKey) return undefined;
    if (typeof key !== 'string' || key.length === 0) {
      throw new TollgateError(ErrorCodes.INVALID_KEY, 'tollgate: the `key` function must return a non-empty string');
    }
    return key;
  }

  private outcome(req: Req, key: string, cost: number, decision: Decision): Outcome {
    const { mode } = this;
    annotateRateLimit(decision, this.limiter.label, undefined, mode);
    const holder = this.reader.holder?.(req);
    const refused = !decision.allowed && decision.source !== 'closed';
    const hook = mode === 'shadow' ? this.onWouldLimit : this.onLimited;
    const info =
      holder !== undefined || (refused && hook !== undefined)
        ? new RateLimitInfo(decision, this.displayName, key, cost, mode, this.limiter)
        : undefined;
    if (holder !== undefined) holdDecision(holder, info as RateLimitInfo);
    if (refused && hook !== undefined) {
      this.callHook(mode === 'shadow' ? 'onWouldLimit' : 'onLimited', hook, req, info as RateLimitInfo);
    }
    if (mode === 'shadow') return this.shadowOutcome(req, decision, refused);
    if (decision.source === 'closed') {
      return {
        action: 'reject',
        status: 503,
        headers: [['Retry-After', String(retryAfterSeconds(decision.retryAfterMs))]],
        contentType: PROBLEM_CONTENT_TYPE,
        body: storeUnavailableBody(),
        decision,
      };
    }
    const headers = this.headersFor(req, decision);
    if (decision.allowed) return { action: 'next', headers, decision };
    const retryAfter = retryAfterSeconds(decision.retryAfterMs);
    const names = this.namesOf(decision);
    const violated = decision.policies.flatMap((s, i) => (s.allowed ? [] : [names[i] as string]));
    return {
      action: 'reject',
      status: 429,
      headers: [...headers, ['Retry-After', String(retryAfter)]],
      contentType: PROBLEM_CONTENT_TYPE,
      body: quotaExceededBody(violated, retryAfter),
      decision,
    };
  }

  /**
   * From this limiter's first request, its label's decisions are counted in its `mode`; warns if
   * another limiter of this process, under the same label, has counted in the other.
   */
  private countIn(mode: RateLimitMode): void {
    this.modeCounted.done = true;
    const label = this.limiter.label;
    const other = labelModes.get(label);
    if (other !== undefined && other !== mode) {
      this.logger.warn(
        { limiter: label, mode, other },
        `tollgate: limiter "${label}" runs in mode '${mode}' while another limiter with the same name (or, unnamed, the same policies) is in mode '${other}': their decisions share one metric label and are counted in the mode of the last one to take a request. Give the shadow limiter a name of its own.`,
      );
    }
    labelModes.set(label, mode);
    countDecisionsAs(label, mode);
  }

  /**
   * A shadow limiter lets every request through. A would-be refusal keeps the header fields it
   * would have had (if `headers` asks for them), without `Retry-After`; a store failure
   * (`failMode: 'closed'`) says nothing of a quota and gets none.
   */
  private shadowOutcome(req: Req, decision: Decision, refused: boolean): Outcome {
    if (refused) this.wouldHaveRefused(decision);
    const headers = decision.source === 'closed' ? [] : this.headersFor(req, decision);
    return { action: 'next', headers, decision };
  }

  /** Samples a shadow limiter's would-be refusals in the log: one line a minute at most, with how many were held back. */
  private wouldHaveRefused(decision: Decision): void {
    const heldBack = this.logThrottle.take('shadow');
    if (heldBack === undefined) return;
    this.logger.warn(
      {
        limiter: this.limiter.label,
        violated: decision.policies.flatMap((s, i) => (s.allowed ? [] : [this.namesOf(decision)[i] as string])),
        retryAfterMs: Math.ceil(decision.retryAfterMs),
        heldBack,
      },
      "tollgate: shadow mode: this limiter would have refused a request with 429, and let it through (mode: 'shadow')",
    );
  }

  /**
   * Runs an app's hook without letting it touch the request: not awaited, and a throw or a
   * rejection is logged (throttled, with how many were held back), never passed on.
   */
  private callHook(name: string, hook: RateLimitHook<Req>, req: Req, info: RateLimitInfo): void {
    try {
      const result = hook(req, info);
      if (isPromiseLike(result)) Promise.resolve(result).catch((error: unknown) => this.hookFailed(name, error));
    } catch (error) {
      this.hookFailed(name, error);
    }
  }

  private hookFailed(hook: string, error: unknown): void {
    const heldBack = this.logThrottle.take(hook);
    if (heldBack === undefined) return;
    this.logger.error(
      { limiter: this.limiter.label, hook, err: error, heldBack },
      `tollgate: the ${hook} hook failed; the request went on as decided`,
    );
  }

  /** Refuses a request with no client address, and says how to fix that: at once, then once a minute. */
  private unknownClient(): Outcome {
    const seen = this.unknownClients;
    seen.refused += 1;
    seen.unlogged += 1;
    const now = Date.now();
    if (now - seen.lastLog >= UNKNOWN_CLIENT_LOG_MS) {
      this.logger.error(
        { limiter: this.limiter.label, refused: seen.unlogged, total: seen.refused },
        UNKNOWN_CLIENT_MESSAGE,
      );
      seen.lastLog = now;
      seen.unlogged = 0;
    }
    return {
      action: 'reject',
      status: 500,
      headers: [],
      contentType: PROBLEM_CONTENT_TYPE,
      body: UNKNOWN_CLIENT_BODY,
      decision: undefined,
    };
  }

  private headersFor(req: Req, decision: Decision): HeaderList {
    // A request let through because the store is down says nothing about any quota.
    if (this.headerMode === undefined || decision.source === 'open') return [];
    const mode = this.headerMode;
    const solo = this.solo as SoloHeaders;
    const { perRequest } = this.limiter;
    if (headerLimiters === 1 && !perRequest) return solo.for(decision, mode === 'legacy' ? Date.now() : 0);
    const mine: Contribution = { decision, names: this.namesOf(decision), mode };
    const made = contributions.get(req);
    if (made === undefined) {
      contributions.set(req, [mine]);
      if (perRequest) return rateLimitHeaders(mode, [mine], Date.now());
      return solo.for(decision, mode === 'legacy' ? Date.now() : 0);
    }
    made.push(mine);
    const same = made.filter((c) => c.mode === mode);
    return rateLimitHeaders(mode, same, Date.now());
  }

  private parseKey(key: unknown, subnet: number): (req: Req) => MaybePromise<string | undefined> {
    const { reader } = this;
    if (key === undefined || key === 'ip') return (req) => ipKey(reader.ip(req), subnet);
    if (key === 'token') {
      return (req) => {
        const token = bearerToken(reader.header(req, 'authorization'), reader.header(req, 'x-api-key'));
        return token === undefined ? ipKey(reader.ip(req), subnet) : tokenKey(token);
      };
    }
    if (typeof key === 'function') return key as (req: Req) => MaybePromise<string>;
    throw new InvalidOptionError('key', key, "accepted: 'ip', 'token', or a function (req) => string");
  }
}

/** Header items quote policy names as they are: a name that would break the quoting is a bug. */
function sfStringContent(name: string): string {
  if (!/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(name)) {
    throw new InvalidOptionError('policyName', name, 'accepted: 1 to 128 printable ASCII characters, no `"` or `\\`');
  }
  return name;
}

function parseSubnet(value: unknown): number {
  if (value === undefined) return 64;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 128) {
    throw new InvalidOptionError('ipv6Subnet', value, 'accepted: a whole number from 1 to 128');
  }
  return value;
}

function parseCost<Req>(value: unknown, limiter: RateLimiter): number | ((req: Req) => MaybePromise<number>) {
  if (value === undefined) return 1;
  if (typeof value === 'function') return value as (req: Req) => MaybePromise<number>;
  const capacity = Math.min(...limiter.policies.map((p) => p.capacity));
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > capacity) {
    throw new InvalidOptionError(
      'cost',
      value,
      `accepted: a number from 0 to ${capacity} (the smallest capacity), or a function`,
    );
  }
  return value;
}
