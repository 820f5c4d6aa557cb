import { type ErrorCode, ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import { consoleLogger, isLogger, type Logger } from '../log.js';
import { assertKnownOptions, assertOptionsObject, oneOf, ownOptions, timerMs } from '../options/validate.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { Store, StoreResult } from '../stores/store.js';
import { storeKey } from '../stores/store-key.js';
import { initCircuitMetrics, recordCircuitTransition } from '../telemetry/circuit-metrics.js';
import { type DecisionTally, decisionTally, observeStoreLatency } from '../telemetry/rate-limit-metrics.js';
import { withTimeout } from '../with-timeout.js';
import { Blocker, type BlockOptions } from './block.js';
import { covers } from './bucket.js';
import { CircuitBreaker, type CircuitOptions, NO_CALL, parseCircuitOptions } from './circuit-breaker.js';
import { buildDecision, type Decision, type DecisionSource, unlimitedDecision } from './decision.js';
import { isPromiseLike } from './is-promise-like.js';
import { RateLimitExceededError, StoreUnavailableError } from './limit-errors.js';
import { claimName } from './name-registry.js';
import {
  hasPerRequestLimits,
  LimitResolver,
  type LimitSet,
  limitSet,
  type PerRequest,
  type PerRequestPolicyOptions,
} from './per-request-limits.js';
import { createPolicy, type Policy, type PolicyOptions } from './policy.js';
import { QuotaLookup, type QuotaOptions } from './quota-source.js';
import { Receipt } from './refund.js';
import { type Waited, Waiters } from './slow-down.js';
import { StoreHealth } from './store-health.js';

/** What the limiter does when its store fails or is too slow. */
export type FailMode = 'local' | 'open' | 'closed';

interface CommonOptions<Req> {
  /** Where buckets live (default: a new `MemoryStore`). One store can serve many limiters. */
  store?: Store;
  /**
   * Names the limiter's keys; limiters with different names never share buckets. Limiters with
   * the same name and the same policies (on one store, under one prefix) do. A limiter's keys
   * also carry its policies, so a limiter with the same name and other policies (a config reload,
   * another process mid-rollout) starts buckets of its own; in one process, building it logs a
   * warning.
   */
  name?: string;
  /** First segment of every store key (default `'tollgate'`). */
  prefix?: string;
  /**
   * When the store fails: `'local'` (default) answers from an in-process bucket with the same
   * policy, `'open'` allows, `'closed'` refuses.
   */
  failMode?: FailMode;
  /** Longest wait for the store before `failMode` applies (default 500 ms). */
  timeoutMs?: number;
  /** Receives store failure and recovery lines, and circuit state changes (default: stderr). */
  logger?: Logger;
  /**
   * The circuit breaker around the store (on by default): after `failures` (5) consecutive
   * failures or timeouts, decisions follow `failMode` without calling the store for `minOpenMs`
   * (1000), then one probe call goes to the store; each failed probe doubles the interval, up to
   * `maxOpenMs` (30000). `false` turns it off: every decision then tries the store.
   */
  circuit?: CircuitOptions | boolean;
  /**
   * Per-tenant limits changed at runtime: a quota source (such as `RedisQuotaSource`, written by
   * `npx tollgate quota set`) read through a bounded cache. A tenant's quota replaces the
   * configured policies. Needs a `name`.
   */
  quotas?: QuotaOptions<Req>;
  /** Refuse a client for `for` once it was refused `after` times within `within`. */
  block?: BlockOptions;
}

/**
 * One policy, written inline. `max`, `window` and `burst` may be functions of the request (the
 * third argument of `consume`), sync or async; such a limiter needs a `name`.
 */
export interface SinglePolicyOptions<Req = unknown> extends CommonOptions<Req>, PerRequestPolicyOptions<Req> {
  policies?: never;
}

/** Several policies, decided all-or-nothing; or a function of the request giving them. */
export interface MultiPolicyOptions<Req = unknown> extends CommonOptions<Req> {
  policies: PerRequest<readonly PolicyOptions[], Req>;
  max?: never;
  window?: never;
  burst?: never;
}

/** The options of `new RateLimiter()`: one policy inline (`max`, `window`, `burst`), or `policies`. */
export type RateLimiterOptions<Req = unknown> = SinglePolicyOptions<Req> | MultiPolicyOptions<Req>;

/** How `consumeWaiting` waits: at most `maxDelayMs`, and not after `signal` aborts. */
export interface WaitOptions {
  maxDelayMs: number;
  signal?: AbortSignal;
}

export const RATE_LIMITER_OPTIONS: ReadonlySet<string> = new Set([
  'max',
  'window',
  'burst',
  'policies',
  'store',
  'name',
  'prefix',
  'failMode',
  'timeoutMs',
  'logger',
  'circuit',
  'quotas',
  'block',
]);

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Policies per limiter, at most: a MemoryStore holds at most this many buckets per key. */
const MAX_POLICIES = 32;

/** What a store call does: take tokens, or only read them. */
type Op = 0 | 1;
const CONSUME: Op = 0;
const PEEK: Op = 1;

/**
 * A token-bucket rate limiter: each key gets a bucket of `burst ?? max` tokens, refilled
 * continuously at `max / window`. With several policies, a call is admitted only if every
 * bucket can pay, and then every bucket pays.
 *
 * @example
 * const limiter = new RateLimiter({ max: 100, window: '1m' });
 * const decision = await limiter.consume('user:42');
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterMs} ms`);
 */
export class RateLimiter<Req = unknown> {
  /** The configured policies; empty when they are functions of the request (see `perRequest`). */
  readonly policies: readonly Policy[];
  /**
   * True when a call's limits can differ from the configured ones (functions of the request, or
   * quotas): each decision then carries its own policies, and a client's buckets are kept by
   * position, so its tokens carry over when its limit changes.
   */
  readonly perRequest: boolean;
  /** The block settings, if any. */
  readonly block: Blocker | undefined;
  readonly name: string | undefined;
  /** The limiter's name in metrics, spans and logs: its `name`, or its policy id. Never a client key. */
  readonly label: string;
  readonly failMode: FailMode;
  readonly timeoutMs: number;
  /** Failure counters for the store behind this limiter. */
  readonly health: StoreHealth;
  /** The circuit breaker around the store, or undefined with `circuit: false`. */
  readonly circuit: CircuitBreaker | undefined;
  private readonly store: Store;
  /** Where decisions go: the store's view under `keyPrefix` if it offers one, else the store. */
  private readonly target: Store;
  private readonly keyPrefix: string;
  /** The limits of every call, when they do not vary. */
  private readonly limits: LimitSet | undefined;
  private readonly resolver: LimitResolver<Req> | undefined;
  private readonly quotas: QuotaLookup<Req> | undefined;
  private readonly waiters = new Waiters();
  /** The in-process fallback store, made on first need (a holder, as the limiter's fields are read-only). */
  private readonly fallbackStore: { local?: MemoryStore } = {};
  private readonly tally: DecisionTally;

  constructor(options: RateLimiterOptions<Req>) {
    const opts = assertOptionsObject(options, 'RateLimiter');
    assertKnownOptions(opts, RATE_LIMITER_OPTIONS, 'RateLimiter');
    const functions = hasPerRequestLimits(opts);
    this.perRequest = functions || opts.quotas !== undefined;
    this.policies = Object.freeze(functions ? [] : parsePolicies(opts));
    this.name = opts.name === undefined ? undefined : matchName(opts.name, 'name');
    if (this.perRequest && this.name === undefined) {
      throw new InvalidOptionError(
        'name',
        opts.name,
        'a limiter whose limits vary per request (max, window, burst or policies as functions, or quotas) needs a `name`, as its keys cannot be derived from its policies',
      );
    }
    this.block = opts.block === undefined ? undefined : new Blocker(opts.block);
    const prefix = opts.prefix === undefined ? 'tollgate' : matchName(opts.prefix, 'prefix');
    this.failMode =
      opts.failMode === undefined ? 'local' : oneOf(opts.failMode, 'failMode', ['local', 'open', 'closed']);
    this.timeoutMs = opts.timeoutMs === undefined ? 500 : timerMs(opts.timeoutMs, 'timeoutMs');
    if (opts.logger !== undefined && !isLogger(opts.logger)) {
      throw new InvalidOptionError('logger', opts.logger, 'accepted: an object with info, warn and error methods');
    }
    if (opts.store !== undefined && !isStore(opts.store)) {
      throw new InvalidOptionError(
        'store',
        opts.store,
        'accepted: a MemoryStore, a RedisStore, or an object implementing Store',
      );
    }
    this.store = (opts.store as Store | undefined) ?? new MemoryStore();
    // Keys carry the policies, so identical limiters in a fleet share buckets and limiters with
    // other policies never do, whatever their names: under one key, each decision would rewrite the
    // other policy's buckets (a lax limiter named like a strict one refilled it on every call, in
    // any process on the same Redis).
    // A limiter whose limits vary keeps each client's buckets under one key whatever its limit
    // (`q`: buckets by position), so its tokens carry over when the limit changes.
    const policyIds = this.perRequest ? 'q' : this.policies.map((p) => p.id).join('+');
    const id = this.name === undefined ? `p:${policyIds}` : `n:${this.name}:${policyIds}`;
    this.keyPrefix = `${prefix}:${id}:`;
    this.target = typeof this.store.scope === 'function' ? this.store.scope(this.keyPrefix) : this.store;
    this.label = this.name ?? id;
    this.tally = decisionTally(this.label);
    const logger = (opts.logger as Logger | undefined) ?? consoleLogger;
    this.limits = functions ? undefined : limitSet(this.policies, this.perRequest);
    this.quotas =
      opts.quotas === undefined ? undefined : new QuotaLookup<Req>(opts.quotas, this.timeoutMs, logger, this.label);
    this.resolver = this.perRequest
      ? new LimitResolver<Req>(opts, MAX_POLICIES, this.quotas, this.limits, logger, this.label)
      : undefined;
    this.health = new StoreHealth(logger, this.label);
    const circuit = parseCircuitOptions(opts.circuit);
    if (circuit === undefined) {
      this.circuit = undefined;
    } else {
      const { health, label, failMode } = this;
      this.circuit = new CircuitBreaker(circuit, {
        onTransition(transition) {
          health.circuitChanged(transition, failMode);
          recordCircuitTransition(label, transition.to);
        },
      });
      initCircuitMetrics(label);
    }
    // Last, once every option is valid: a refused limiter must not hold the name.
    if (this.name !== undefined && !this.perRequest)
      claimName(this.store, prefix, this.name, this.policies, this, logger);
    // The parsed configuration cannot change after validation (name, policies, failMode,
    // timeoutMs, store…): every field becomes read-only. The instance itself is not frozen, so
    // instrumentation may still wrap a method such as `decide` on it.
    for (const field of Object.keys(this)) Object.defineProperty(this, field, { writable: false, configurable: false });
  }

  /**
   * Takes `cost` tokens from every bucket of `key` if all of them have enough; else takes none.
   * `request` is what per-request limits (`max` as a function, …) and `quotas.tenant` are given.
   */
  async consume(key: string, cost = 1, request?: Req): Promise<Decision> {
    return this.decide(key, cost, request);
  }

  /**
   * As `consume`, but answers synchronously when the store does (the memory store, or a
   * fallback), so a request that needs no I/O costs no promise and no microtask.
   */
  decide(key: string, cost = 1, request?: Req): Decision | Promise<Decision> {
    const k = this.targetKey(key);
    const limits = this.limitsFor(request, key);
    if (isPromiseLike(limits)) return Promise.resolve(limits).then((l) => this.decideWith(k, l, cost));
    return this.decideWith(k, limits, cost);
  }

  /**
   * As `consume`, but a call beyond the bucket waits for its tokens instead of being refused, up
   * to `maxDelayMs`: then, or at once when its first refusal says the wait would be longer, it is
   * refused. Waiting calls hold no tokens; calls for one key wait in line in this process, and one
   * whose `signal` aborts leaves the line (the next takes its place) and is answered `aborted`.
   */
  consumeWaiting(key: string, cost: number, options: WaitOptions, request?: Req): Promise<Waited> {
    const k = this.keyFor(key);
    return this.waiters.wait(
      k,
      () => this.decide(key, cost, request),
      (decision) => {
        this.refundDecision(key, cost, decision, request).catch(() => {});
      },
      options.maxDelayMs,
      options.signal,
    );
  }

  /** Calls waiting for tokens now (`consumeWaiting`), over every key. */
  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * Gives `cost` tokens back to every bucket of `key` (code that knows a call should not have
   * counted), up to each bucket's capacity: never more than a full bucket. Bounded by `timeoutMs`;
   * a store that cannot do it rejects with `TOLLGATE_STORE_TIMEOUT` or `TOLLGATE_STORE_UNAVAILABLE`.
   * On Redis, the other instances stop answering the key's refusals from memory.
   */
  async refund(key: string, cost = 1, request?: Req): Promise<Decision> {
    const k = this.targetKey(key);
    const limits = await this.limitsFor(request, key);
    return this.giveBack(k, limits, this.costsFor(cost, limits), 'store');
  }

  /**
   * Refunds what `decision` (a `consume` of `key` with `cost`) took, where it took it: nothing for
   * a refusal or a decision made without a bucket (`failMode` open or closed), the local fallback
   * bucket for a `local` one. Resolves false when there was nothing to give back.
   */
  async refundDecision(key: string, cost: number, decision: Decision, request?: Req): Promise<boolean> {
    if (!decision.allowed || cost <= 0 || (decision.source !== 'store' && decision.source !== 'local')) return false;
    const policies = decision.policies.map((s) => s.policy);
    const limits =
      this.limits !== undefined && sameLimits(this.limits, policies)
        ? this.limits
        : limitSet(policies, this.perRequest);
    void request;
    await this.giveBack(this.targetKey(key), limits, this.costsFor(cost, limits), decision.source);
    return true;
  }

  /**
   * A refund of what `decision` took that can be given at most once (see `refundDecision`):
   * what `skipSuccessfulRequests` and `skipFailedRequests` use, one per request.
   */
  receipt(key: string, cost: number, decision: Decision, request?: Req): Receipt {
    const taken = decision.allowed && cost > 0 && (decision.source === 'store' || decision.source === 'local');
    return new Receipt(taken ? () => this.refundDecision(key, cost, decision, request) : undefined);
  }

  /**
   * As `consume`, but throws `RateLimitExceededError` (with `retryAfter` in whole seconds) when
   * refused, and `StoreUnavailableError` when the store is down and `failMode` is `'closed'`.
   */
  async check(key: string, cost = 1, request?: Req): Promise<Decision> {
    const decision = await this.consume(key, cost, request);
    if (decision.allowed) return decision;
    if (decision.source === 'closed') throw new StoreUnavailableError(decision);
    throw new RateLimitExceededError(decision);
  }

  /** The state of `key`'s buckets, without consuming anything. */
  async peek(key: string, request?: Req): Promise<Decision> {
    const limits = await this.limitsFor(request, key);
    return this.run(PEEK, this.targetKey(key), limits, limits.unitCosts);
  }

  /**
   * As `peek`, under the limits `decision` was made with: what a request's decision reads its
   * bucket with later (`RateLimitInfo.peek()`), when the limits are functions of a request that is
   * no longer at hand.
   */
  async peekWith(key: string, decision: Pick<Decision, 'policies'>): Promise<Decision> {
    const policies = decision.policies.map((s) => s.policy);
    const limits =
      this.limits !== undefined && sameLimits(this.limits, policies)
        ? this.limits
        : limitSet(policies, this.perRequest);
    return this.run(PEEK, this.targetKey(key), limits, limits.unitCosts);
  }

  /**
   * Refills every bucket of `key` (an admin reset). Like a decision it waits at most `timeoutMs`
   * and goes through the circuit breaker; when the store cannot do it, it rejects with a
   * `TollgateError` coded `TOLLGATE_STORE_TIMEOUT` (no answer in time) or
   * `TOLLGATE_STORE_UNAVAILABLE` (an error, a store not connected, or an open circuit), naming
   * the limiter, never the key, with the store's own error as `cause`.
   */
  async reset(key: string): Promise<void> {
    const k = this.targetKey(key);
    this.fallbackStore.local?.reset(k);
    this.block?.clear(k);
    const permit = this.circuit === undefined ? 0 : this.circuit.admit();
    if (permit === NO_CALL) {
      throw this.operationError('reset', ErrorCodes.STORE_UNAVAILABLE, 'the circuit breaker is open');
    }
    try {
      if (this.store.isAvailable?.() === false) {
        throw new TollgateError(ErrorCodes.STORE_UNAVAILABLE, 'the store is not connected');
      }
      const pending = this.target.reset(k);
      if (isPromiseLike(pending)) await withTimeout(Promise.resolve(pending), this.timeoutMs);
    } catch (error) {
      this.health.operationFailed(error, 'reset');
      this.circuit?.failure(permit);
      throw this.operationError('reset', codeOf(error), describeFailure(error), error);
    }
    this.health.succeeded();
    this.circuit?.success(permit);
  }

  /** The store key for a caller's key: hostile characters never reach the store raw. */
  keyFor(key: string): string {
    return this.keyPrefix + clientKey(key);
  }

  /**
   * The key to give the store: without the prefix when it is the store's scoped view. The local
   * fallback store serves this limiter alone and gets the same keys.
   */
  private targetKey(key: string): string {
    return this.target === this.store ? this.keyFor(key) : clientKey(key);
  }

  /** The limits of a call: the configured ones, or those of the request and its tenant's quota. */
  private limitsFor(request: Req | undefined, key: string): LimitSet | Promise<LimitSet> {
    if (this.resolver === undefined) return this.limits as LimitSet;
    return this.resolver.resolve(request, key);
  }

  private decideWith(k: string, limits: LimitSet, cost: number): Decision | Promise<Decision> {
    const decision = this.run(CONSUME, k, limits, this.costsFor(cost, limits));
    if (this.block === undefined) return decision;
    if (isPromiseLike(decision)) return Promise.resolve(decision).then((d) => this.maybeBlock(k, limits, d, cost));
    return this.maybeBlock(k, limits, decision, cost);
  }

  /**
   * Counts a refusal toward `block`; the one that completes `after` within `within` lowers the
   * client's buckets to where they take `for` to give one token (in the store, so every instance
   * refuses it), and is answered with that wait.
   */
  private maybeBlock(k: string, limits: LimitSet, decision: Decision, cost: number): Decision | Promise<Decision> {
    const blocker = this.block as Blocker;
    if (decision.allowed || (decision.source !== 'store' && decision.source !== 'local')) return decision;
    if (!blocker.refused(k, performance.now(), decision, cost)) return decision;
    const ceilings = blocker.ceilings(limits.buckets);
    const costs = limits.unitCosts;
    const blocked = (result: StoreResult) =>
      this.decision(PEEK, { allowed: false, tokens: result.tokens }, costs, decision.source, limits);
    const target = decision.source === 'local' ? this.localStore() : this.target;
    if (typeof target.lower !== 'function') return decision;
    let pending: StoreResult | Promise<StoreResult>;
    try {
      pending = target.lower(k, limits.buckets, ceilings);
    } catch (error) {
      this.health.operationFailed(error, 'block');
      return decision;
    }
    if (!isPromiseLike(pending)) return this.refusedAs(blocked(pending), decision);
    return withTimeout(Promise.resolve(pending), this.timeoutMs).then(
      (result) => this.refusedAs(blocked(result), decision),
      (error: unknown) => {
        // The request is refused all the same; the block is not in the store, so not shared.
        this.health.operationFailed(error, 'block');
        return decision;
      },
    );
  }

  /** A blocked client's refusal: the buckets as the block left them, refused. */
  private refusedAs(blocked: Decision, original: Decision): Decision {
    return { ...blocked, allowed: false, source: original.source };
  }

  private giveBack(k: string, limits: LimitSet, costs: readonly number[], source: DecisionSource): Promise<Decision> {
    const deltas = costs.map((c) => -c);
    const target = source === 'local' ? this.localStore() : this.target;
    const work = async (): Promise<Decision> => {
      if (source !== 'local' && this.store.isAvailable?.() === false) {
        throw new TollgateError(ErrorCodes.STORE_UNAVAILABLE, 'the store is not connected');
      }
      const pending =
        typeof target.adjust === 'function'
          ? target.adjust(k, limits.buckets, deltas)
          : target.consume(k, limits.buckets, deltas);
      const result = isPromiseLike(pending) ? await withTimeout(Promise.resolve(pending), this.timeoutMs) : pending;
      return this.decision(PEEK, { allowed: true, tokens: result.tokens }, limits.unitCosts, source, limits);
    };
    return work().catch((error: unknown) => {
      this.health.operationFailed(error, 'refund');
      throw this.operationError('refund', codeOf(error), describeFailure(error), error);
    });
  }

  private localStore(): MemoryStore {
    this.fallbackStore.local ??= new MemoryStore();
    return this.fallbackStore.local;
  }

  private costsFor(cost: number, limits: LimitSet): readonly number[] {
    if (cost === 1) return limits.unitCosts;
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
      throw new TollgateError(
        ErrorCodes.INVALID_COST,
        `tollgate: cost must be a finite number >= 0, got ${String(cost)}`,
      );
    }
    for (const p of limits.policies) {
      if (cost > p.capacity) {
        throw new TollgateError(
          ErrorCodes.INVALID_COST,
          `tollgate: cost ${cost} exceeds the capacity ${p.capacity} of policy ${p.label}, so it could never be admitted`,
        );
      }
    }
    return limits.policies.map(() => cost);
  }

  /** One store call, with timeout, circuit breaker and fallback; synchronous if the store is. */
  private run(op: Op, key: string, limits: LimitSet, costs: readonly number[]): Decision | Promise<Decision> {
    // While the circuit is open, the store is not called at all: failMode answers at once.
    const permit = this.circuit === undefined ? 0 : this.circuit.admit();
    if (permit === NO_CALL) {
      this.health.shortCircuit();
      return this.fallback(op, key, limits, costs);
    }
    let pending: StoreResult | Promise<StoreResult>;
    try {
      if (this.store.isAvailable?.() === false) {
        this.health.skipped(this.failMode);
        this.circuit?.failure(permit);
        return this.fallback(op, key, limits, costs);
      }
      const { buckets } = limits;
      pending = op === CONSUME ? this.target.consume(key, buckets, costs) : this.target.peek(key, buckets);
    } catch (error) {
      return this.failed(error, permit, op, key, limits, costs);
    }
    if (!isPromiseLike(pending)) return this.answered(permit, op, pending, limits, costs);
    const started = performance.now();
    return withTimeout(Promise.resolve(pending), this.timeoutMs).then(
      (result) => {
        // Only a remote store's latency is worth a histogram: an in-process one answers at once.
        observeStoreLatency(this.label, (performance.now() - started) / 1000);
        return this.answered(permit, op, result, limits, costs);
      },
      (error: unknown) => this.failed(error, permit, op, key, limits, costs),
    );
  }

  private operationError(operation: string, code: ErrorCode, reason: string, cause?: unknown): TollgateError {
    return new TollgateError(
      code,
      `tollgate: limiter "${this.label}" could not ${operation} a key: ${reason}`,
      cause === undefined ? undefined : { cause },
    );
  }

  private answered(permit: number, op: Op, result: StoreResult, limits: LimitSet, costs: readonly number[]): Decision {
    this.health.succeeded();
    this.circuit?.success(permit);
    return this.decision(op, result, costs, 'store', limits);
  }

  private failed(
    error: unknown,
    permit: number,
    op: Op,
    key: string,
    limits: LimitSet,
    costs: readonly number[],
  ): Decision {
    this.health.failed(error, this.failMode);
    this.circuit?.failure(permit);
    return this.fallback(op, key, limits, costs);
  }

  private fallback(op: Op, key: string, limits: LimitSet, costs: readonly number[]): Decision {
    if (this.failMode !== 'local') return this.decision(op, undefined, costs, this.failMode, limits);
    const local = this.localStore();
    const result = op === CONSUME ? local.consume(key, limits.buckets, costs) : local.peek(key, limits.buckets);
    return this.decision(op, result, costs, 'local', limits);
  }

  private decision(
    op: Op,
    result: StoreResult | undefined,
    costs: readonly number[],
    source: DecisionSource,
    limits: LimitSet,
  ): Decision {
    const { policies } = limits;
    if (result === undefined) {
      const unlimited = unlimitedDecision(policies, source === 'open', source);
      if (op === CONSUME) this.tally.count(unlimited);
      return unlimited;
    }
    if (op === PEEK) {
      // Allowed here means a request of cost 1 would be admitted now.
      const allowed = result.allowed && result.tokens.every((t) => covers(t, 1));
      return buildDecision(policies, result.tokens, costs, allowed, source);
    }
    const decision = buildDecision(policies, result.tokens, costs, result.allowed, source);
    this.tally.count(decision);
    return decision;
  }
}

/** A store failure's code: a timeout stays a timeout, anything else means the store is unavailable. */
function codeOf(error: unknown): ErrorCode {
  return error instanceof TollgateError && error.code === ErrorCodes.STORE_TIMEOUT
    ? ErrorCodes.STORE_TIMEOUT
    : ErrorCodes.STORE_UNAVAILABLE;
}

/**
 * Why a store call failed, for an error message. A tollgate error's message is tollgate's own
 * and never holds a key; another error is named by its class only (a custom store's message might
 * echo the key), its details staying in `cause`.
 */
function describeFailure(error: unknown): string {
  if (error instanceof TollgateError) return error.message;
  return `the store failed (${error instanceof Error ? error.name : typeof error}; see cause)`;
}

function clientKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TollgateError(ErrorCodes.INVALID_KEY, 'tollgate: a rate limit key must be a non-empty string');
  }
  return storeKey(key);
}

function parsePolicies(opts: Record<string, unknown>): Policy[] {
  if (opts.policies === undefined) {
    return [createPolicy({ max: opts.max, window: opts.window, burst: opts.burst } as PolicyOptions)];
  }
  if (opts.max !== undefined || opts.window !== undefined || opts.burst !== undefined) {
    throw new InvalidOptionError(
      'policies',
      opts.policies,
      'give either `policies` or `max`/`window`/`burst`, not both',
    );
  }
  if (!Array.isArray(opts.policies) || opts.policies.length === 0 || opts.policies.length > MAX_POLICIES) {
    throw new InvalidOptionError(
      'policies',
      opts.policies,
      `accepted: an array of 1 to ${MAX_POLICIES} { max, window, burst? }`,
    );
  }
  // Indexed by hand, own elements and own properties only: a hole in the array or a policy
  // without `burst` must not pick a value up from a polluted Array or Object prototype.
  const list = opts.policies as readonly unknown[];
  const policies: Policy[] = [];
  for (let i = 0; i < list.length; i++) {
    const p = Object.hasOwn(list, i) ? list[i] : undefined;
    const own = typeof p === 'object' && p !== null ? ownOptions(p) : p;
    policies.push(createPolicy(own as PolicyOptions, `policies[${i}].`));
  }
  const ids = new Set(policies.map((p) => p.id));
  if (ids.size !== policies.length) {
    throw new InvalidOptionError('policies', opts.policies, 'each policy must differ from the others');
  }
  return policies;
}

function matchName(value: unknown, option: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw new InvalidOptionError(option, value, 'accepted: 1 to 64 letters, digits, "_", "." or "-"');
  }
  return value;
}

/** Whether a decision's policies are the limiter's configured ones (the common refund). */
function sameLimits(limits: LimitSet, policies: readonly Policy[]): boolean {
  return limits.policies.length === policies.length && limits.policies.every((p, i) => p === policies[i]);
}

function isStore(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.consume === 'function' && typeof v.peek === 'function' && typeof v.reset === 'function';
}
