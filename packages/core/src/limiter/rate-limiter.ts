import { type ErrorCode, ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import { consoleLogger, isLogger, type Logger } from '../log.js';
import { assertKnownOptions, assertOptionsObject, oneOf, ownOptions, timerMs } from '../options/validate.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { Store, StoreResult } from '../stores/store.js';
import { storeKey } from '../stores/store-key.js';
import { initCircuitMetrics, recordCircuitTransition } from '../telemetry/circuit-metrics.js';
import { type DecisionTally, decisionTally, observeStoreLatency } from '../telemetry/rate-limit-metrics.js';
import { covers } from './bucket.js';
import { CircuitBreaker, type CircuitOptions, NO_CALL, parseCircuitOptions } from './circuit-breaker.js';
import { buildDecision, type Decision, type DecisionSource, unlimitedDecision } from './decision.js';
import { isPromiseLike } from './is-promise-like.js';
import { RateLimitExceededError, StoreUnavailableError } from './limit-errors.js';
import { claimName } from './name-registry.js';
import { createPolicy, type Policy, type PolicyOptions } from './policy.js';
import { StoreHealth } from './store-health.js';
import { withTimeout } from './timeout.js';

/** What the limiter does when its store fails or is too slow. */
export type FailMode = 'local' | 'open' | 'closed';

interface CommonOptions {
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
}

/** One policy, written inline. */
export interface SinglePolicyOptions extends CommonOptions, PolicyOptions {
  policies?: never;
}

/** Several policies, decided all-or-nothing. */
export interface MultiPolicyOptions extends CommonOptions {
  policies: readonly PolicyOptions[];
  max?: never;
  window?: never;
  burst?: never;
}

/** The options of `new RateLimiter()`: one policy inline (`max`, `window`, `burst`), or `policies`. */
export type RateLimiterOptions = SinglePolicyOptions | MultiPolicyOptions;

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
export class RateLimiter {
  readonly policies: readonly Policy[];
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
  private readonly unitCosts: readonly number[];
  /** The in-process fallback store, made on first need (a holder, as the limiter's fields are read-only). */
  private readonly fallbackStore: { local?: MemoryStore } = {};
  private readonly tally: DecisionTally;

  constructor(options: RateLimiterOptions) {
    const opts = assertOptionsObject(options, 'RateLimiter');
    assertKnownOptions(opts, RATE_LIMITER_OPTIONS, 'RateLimiter');
    this.policies = Object.freeze(parsePolicies(opts));
    this.name = opts.name === undefined ? undefined : matchName(opts.name, 'name');
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
    const policyIds = this.policies.map((p) => p.id).join('+');
    const id = this.name === undefined ? `p:${policyIds}` : `n:${this.name}:${policyIds}`;
    this.keyPrefix = `${prefix}:${id}:`;
    this.target = typeof this.store.scope === 'function' ? this.store.scope(this.keyPrefix) : this.store;
    this.label = this.name ?? id;
    this.tally = decisionTally(this.label);
    const logger = (opts.logger as Logger | undefined) ?? consoleLogger;
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
    this.unitCosts = Object.freeze(this.policies.map(() => 1));
    // Last, once every option is valid: a refused limiter must not hold the name.
    if (this.name !== undefined) claimName(this.store, prefix, this.name, this.policies, this, logger);
    // The parsed configuration cannot change after validation (name, policies, failMode,
    // timeoutMs, store…): every field becomes read-only. The instance itself is not frozen, so
    // instrumentation may still wrap a method such as `decide` on it.
    for (const field of Object.keys(this)) Object.defineProperty(this, field, { writable: false, configurable: false });
  }

  /** Takes `cost` tokens from every bucket of `key` if all of them have enough; else takes none. */
  async consume(key: string, cost = 1): Promise<Decision> {
    return this.decide(key, cost);
  }

  /**
   * As `consume`, but answers synchronously when the store does (the memory store, or a
   * fallback), so a request that needs no I/O costs no promise and no microtask.
   */
  decide(key: string, cost = 1): Decision | Promise<Decision> {
    return this.run(CONSUME, this.targetKey(key), this.costsFor(cost));
  }

  /**
   * As `consume`, but throws `RateLimitExceededError` (with `retryAfter` in whole seconds) when
   * refused, and `StoreUnavailableError` when the store is down and `failMode` is `'closed'`.
   */
  async check(key: string, cost = 1): Promise<Decision> {
    const decision = await this.consume(key, cost);
    if (decision.allowed) return decision;
    if (decision.source === 'closed') throw new StoreUnavailableError(decision);
    throw new RateLimitExceededError(decision);
  }

  /** The state of `key`'s buckets, without consuming anything. */
  async peek(key: string): Promise<Decision> {
    return this.run(PEEK, this.targetKey(key), this.unitCosts);
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

  private costsFor(cost: number): readonly number[] {
    if (cost === 1) return this.unitCosts;
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) {
      throw new TollgateError(
        ErrorCodes.INVALID_COST,
        `tollgate: cost must be a finite number >= 0, got ${String(cost)}`,
      );
    }
    for (const p of this.policies) {
      if (cost > p.capacity) {
        throw new TollgateError(
          ErrorCodes.INVALID_COST,
          `tollgate: cost ${cost} exceeds the capacity ${p.capacity} of policy ${p.label}, so it could never be admitted`,
        );
      }
    }
    return this.policies.map(() => cost);
  }

  /** One store call, with timeout, circuit breaker and fallback; synchronous if the store is. */
  private run(op: Op, key: string, costs: readonly number[]): Decision | Promise<Decision> {
    // While the circuit is open, the store is not called at all: failMode answers at once.
    const permit = this.circuit === undefined ? 0 : this.circuit.admit();
    if (permit === NO_CALL) {
      this.health.shortCircuit();
      return this.fallback(op, key, costs);
    }
    let pending: StoreResult | Promise<StoreResult>;
    try {
      if (this.store.isAvailable?.() === false) {
        this.health.skipped(this.failMode);
        this.circuit?.failure(permit);
        return this.fallback(op, key, costs);
      }
      pending = op === CONSUME ? this.target.consume(key, this.policies, costs) : this.target.peek(key, this.policies);
    } catch (error) {
      return this.failed(error, permit, op, key, costs);
    }
    if (!isPromiseLike(pending)) return this.answered(permit, op, pending, costs);
    const started = performance.now();
    return withTimeout(Promise.resolve(pending), this.timeoutMs).then(
      (result) => {
        // Only a remote store's latency is worth a histogram: an in-process one answers at once.
        observeStoreLatency(this.label, (performance.now() - started) / 1000);
        return this.answered(permit, op, result, costs);
      },
      (error: unknown) => this.failed(error, permit, op, key, costs),
    );
  }

  private operationError(operation: string, code: ErrorCode, reason: string, cause?: unknown): TollgateError {
    return new TollgateError(
      code,
      `tollgate: limiter "${this.label}" could not ${operation} a key: ${reason}`,
      cause === undefined ? undefined : { cause },
    );
  }

  private answered(permit: number, op: Op, result: StoreResult, costs: readonly number[]): Decision {
    this.health.succeeded();
    this.circuit?.success(permit);
    return this.decision(op, result, costs, 'store');
  }

  private failed(error: unknown, permit: number, op: Op, key: string, costs: readonly number[]): Decision {
    this.health.failed(error, this.failMode);
    this.circuit?.failure(permit);
    return this.fallback(op, key, costs);
  }

  private fallback(op: Op, key: string, costs: readonly number[]): Decision {
    if (this.failMode !== 'local') return this.decision(op, undefined, costs, this.failMode);
    this.fallbackStore.local ??= new MemoryStore();
    const { local } = this.fallbackStore;
    const result = op === CONSUME ? local.consume(key, this.policies, costs) : local.peek(key, this.policies);
    return this.decision(op, result, costs, 'local');
  }

  private decision(
    op: Op,
    result: StoreResult | undefined,
    costs: readonly number[],
    source: DecisionSource,
  ): Decision {
    if (result === undefined) {
      const unlimited = unlimitedDecision(this.policies, source === 'open', source);
      if (op === CONSUME) this.tally.count(unlimited);
      return unlimited;
    }
    if (op === PEEK) {
      // Allowed here means a request of cost 1 would be admitted now.
      const allowed = result.tokens.every((t) => covers(t, 1));
      return buildDecision(this.policies, result.tokens, costs, allowed, source);
    }
    const decision = buildDecision(this.policies, result.tokens, costs, result.allowed, source);
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

function isStore(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.consume === 'function' && typeof v.peek === 'function' && typeof v.reset === 'function';
}
