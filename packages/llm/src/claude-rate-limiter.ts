import {
  consoleLogger,
  ErrorCodes,
  InvalidOptionError,
  type Logger,
  MemoryStore,
  type Policy,
  RateLimitExceededError,
  type RedisClientLike,
  type RedisConnection,
  RedisStore,
  type Store,
  TollgateError,
} from '@tollgate/core';
import { policyId } from '@tollgate/core/stored-format';
import { type BudgetPeriod, type BudgetStore, budgetPeriods, MemoryBudgetStore, RedisBudgetStore } from './budget.js';
import { type ClaudeStoreWrite, claudeMetrics } from './claude-metrics.js';
import { BudgetExceededError, SpendCapError } from './errors.js';
import { estimateInputTokens, OutputEstimator } from './estimate.js';
import { modelFamily } from './families.js';
import {
  assertKnownOptions,
  assertOptionsObject,
  isLogger,
  positiveInteger,
  timerMs,
  tokenCount,
} from './internal/options.js';
import { storeKey } from './internal/store-key.js';
import { LEDGER_DAYS, MemoryLedger, RedisLedger, type UsageLedger, utcDay } from './ledger.js';
import type { ModelPrice } from './prices.js';
import { PRICES_AS_OF } from './prices.js';
import { type PriceTable, priceCall, priceTable, safeModelId } from './pricing.js';
import { refusal } from './refusal.js';
import { backoffMs, classifyFailure, headerValue, nextMonthStartUtc } from './retry-policy.js';
import { storeCall, storeTimeoutMs } from './store-call.js';
import { type ClaudeUsage, rateLimitedInput, TOKEN_KINDS, type TokenCounts, tokenCounts } from './usage.js';

/** A model family's limits, per minute, as the Claude Console shows them for your organisation. */
export interface FamilyLimits {
  /** Requests per minute. */
  rpm: number;
  /** Input tokens per minute (uncached input plus cache writes). */
  itpm: number;
  /** Output tokens per minute. */
  otpm: number;
}

/** The options of `new ClaudeRateLimiter()`; all are optional. */
export interface ClaudeRateLimiterOptions {
  /** An ioredis client: buckets and the usage ledger live in Redis, shared by every instance. */
  redis?: RedisClientLike;
  /** Or a store for the buckets (default: in memory, for one process). */
  store?: Store;
  /** Limits by family or model id; `'*'` for the rest. Default for any family: 50 / 30,000 / 8,000. */
  limits?: Readonly<Record<string, FamilyLimits>>;
  /** Model id → family, for budgets the built-in map does not know. */
  families?: Readonly<Record<string, string>>;
  /** Prices to override or add, USD per million tokens. */
  pricing?: Readonly<Record<string, ModelPrice>>;
  /** First segment of every Redis key (default `'tollgate'`). */
  prefix?: string;
  /** `run` retries: attempts after the first (default 4), backoff base and cap in ms (500, 30,000). */
  retry?: { maxRetries?: number; baseMs?: number; capMs?: number };
  /** How long `checkLimit` and `run` may wait for budget before refusing (default 60,000 ms). */
  maxWaitMs?: number;
  /** How long the admission rate takes to recover after a ramp 429 halves it (default 300,000 ms). */
  rampRecoveryMs?: number;
  /**
   * Spend caps in USD per UTC day and month, for the app or, when a call names a `tenant`, per
   * tenant. A call is admitted only if its worst-case cost (its input estimate and `max_tokens`
   * of output) fits, so concurrent calls cannot overshoot; the real cost is charged after it.
   */
  budgets?: { daily?: number; monthly?: number };
  /**
   * The longest any one call to the store (buckets, ledger, budgets) may take, in whole ms
   * (default 500, as `RateLimiter`). Before a call, a store that fails or does not answer makes
   * `checkLimit` and `run` throw `TOLLGATE_STORE_TIMEOUT` or `TOLLGATE_STORE_UNAVAILABLE`, and
   * the API is not called; after one, what could not be written is logged and counted, never thrown.
   */
  timeoutMs?: number;
  logger?: Logger;
}

/** What a caller knows about a call before making it. */
export interface CallEstimate {
  /** Input tokens if known (from the token-counting endpoint); else estimated from `request`. */
  inputTokens?: number;
  /** The request's `max_tokens`: output is never reserved above it. */
  maxTokens?: number;
  /** The Messages API request, to estimate input from. */
  request?: unknown;
  /** Overrides `maxWaitMs` for this call. */
  waitMs?: number;
  /** Whose spend budget the call counts against (a customer or API key id); the app's without one. */
  tenant?: string;
}

/** Budget held for one admitted call until its real usage is known. Settle it exactly once. */
export interface Reservation {
  readonly model: string;
  readonly family: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /**
   * Charges the real usage (refunding or charging the difference), or with no usage gives the
   * tokens back (the call failed). Then lowers the buckets to what the response headers say is
   * left. A second call does nothing.
   */
  settle(usage?: ClaudeUsage, headers?: unknown): Promise<void>;
}

/** How `recordUsage` counts one call. */
export interface RecordOptions {
  success?: boolean;
  /** The response's `request-id`: recording the same id twice counts it once. */
  requestId?: string;
  /** Batch API calls are billed at half price. */
  batch?: boolean;
}

/** Calls, tokens by kind and cost, summed over a day, a model, or both. */
export interface ModelUsage {
  calls: number;
  errors: number;
  unpricedCalls: number;
  costMicros: number;
  costUsd: number;
  tokens: TokenCounts;
}

/** What `getUsageStats` returns: the totals, then per UTC day (newest first) and per model. */
export interface UsageStats extends ModelUsage {
  /** The price table's date. */
  pricesAsOf: string;
  days: Array<ModelUsage & { date: string; models: Record<string, ModelUsage> }>;
  models: Record<string, ModelUsage>;
}

const KNOWN = new Set([
  'redis',
  'store',
  'limits',
  'families',
  'pricing',
  'prefix',
  'retry',
  'maxWaitMs',
  'rampRecoveryMs',
  'budgets',
  'timeoutMs',
  'logger',
]);
/** A budget hold left by a process that died stops counting after this long. */
const BUDGET_HOLD_MS = 10 * 60_000;
const DEFAULT_LIMITS: FamilyLimits = { rpm: 50, itpm: 30_000, otpm: 8_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Keeps Claude API calls within the organisation's limits (requests, input tokens and output
 * tokens per minute, per model family, across every instance sharing the store), retries what
 * the API says to retry, and prices every call into a usage ledger.
 *
 * @example
 * const claude = new ClaudeRateLimiter({ redis, limits: { 'claude-sonnet-4-5': { rpm: 50, itpm: 30_000, otpm: 8_000 } } });
 * const anthropic = new Anthropic({ maxRetries: 0 }); // run() owns retries
 * const { data } = await claude.run('claude-sonnet-4-5', params, (p) => anthropic.messages.create(p).withResponse());
 */
export class ClaudeRateLimiter {
  private readonly store: Store;
  private readonly ledger: UsageLedger;
  private readonly budgetStore: BudgetStore;
  private readonly budgets: { daily?: number; monthly?: number } | undefined;
  private readonly prices: PriceTable;
  private readonly limits: Readonly<Record<string, FamilyLimits>>;
  private readonly families: Readonly<Record<string, string>> | undefined;
  private readonly prefix: string;
  private readonly maxRetries: number;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly maxWaitMs: number;
  private readonly rampRecoveryMs: number;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly outputs = new OutputEstimator();
  private readonly policies = new Map<string, readonly Policy[]>();
  private spendCap: { until: number; errorCode: string } | undefined;
  private ramp: { at: number; factor: number } | undefined;

  constructor(options: ClaudeRateLimiterOptions = {}) {
    const opts = assertOptionsObject(options, 'ClaudeRateLimiter');
    assertKnownOptions(opts, KNOWN, 'ClaudeRateLimiter');
    this.prefix = opts.prefix === undefined ? 'tollgate' : safeName(opts.prefix, 'prefix');
    if (opts.redis !== undefined && opts.store !== undefined) {
      throw new InvalidOptionError('store', opts.store, 'give either `redis` or `store`, not both');
    }
    if (opts.logger !== undefined && !isLogger(opts.logger)) {
      throw new InvalidOptionError('logger', opts.logger, 'accepted: an object with info, warn and error methods');
    }
    this.logger = (opts.logger as Logger | undefined) ?? consoleLogger;
    claudeMetrics.init();
    this.timeoutMs = storeTimeoutMs(opts.timeoutMs);
    const bound = { timeoutMs: this.timeoutMs };
    this.budgets = parseBudgets(opts.budgets);
    const store =
      opts.redis !== undefined
        ? // The store's own bound is the limiter's, so a timeoutMs above the store's default holds too.
          new RedisStore({ client: opts.redis as RedisClientLike, timeoutMs: this.timeoutMs, logger: this.logger })
        : ((opts.store as Store | undefined) ?? new MemoryStore());
    this.store = store;
    const shared = sharedConnection(store);
    if (shared !== undefined) {
      // The store says it can share: usage and budgets live in its Redis, beside the buckets.
      this.ledger = new RedisLedger(shared, this.prefix, bound);
      this.budgetStore = new RedisBudgetStore(shared, this.prefix, bound);
    } else {
      if (!(store instanceof MemoryStore)) {
        // A store shared by a fleet, but not able to share usage: per-process budgets would let
        // the fleet spend N times the cap, so they are refused; a per-process ledger is said aloud.
        if (this.budgets !== undefined) {
          throw new InvalidOptionError(
            'store',
            opts.store,
            'budgets need a store that can share them: one with connection() (RedisStore), or a MemoryStore for one process',
          );
        }
        this.logger.warn(
          { store: store.constructor?.name },
          'ClaudeRateLimiter: this store cannot share a usage ledger (it has no connection()): usage is counted per process',
        );
      }
      this.ledger = new MemoryLedger();
      this.budgetStore = new MemoryBudgetStore();
    }
    if (typeof this.store.adjust !== 'function' || typeof this.store.lower !== 'function') {
      throw new InvalidOptionError(
        'store',
        opts.store,
        'the Claude limiter needs a store with adjust() and lower(): MemoryStore or RedisStore',
      );
    }
    this.families = opts.families as Record<string, string> | undefined;
    this.limits = byFamily(parseLimits(opts.limits), this.families);
    this.prices = priceTable(opts.pricing);
    const retry = assertOptionsObject(opts.retry, 'retry');
    assertKnownOptions(retry, new Set(['maxRetries', 'baseMs', 'capMs']), 'retry');
    this.maxRetries = retry.maxRetries === undefined ? 4 : nonNegativeInteger(retry.maxRetries, 'retry.maxRetries');
    this.baseMs = retry.baseMs === undefined ? 500 : timerMs(retry.baseMs, 'retry.baseMs');
    this.capMs = retry.capMs === undefined ? 30_000 : timerMs(retry.capMs, 'retry.capMs');
    this.maxWaitMs = opts.maxWaitMs === undefined ? 60_000 : waitLimit(opts.maxWaitMs, 'maxWaitMs');
    this.rampRecoveryMs =
      opts.rampRecoveryMs === undefined ? 300_000 : positiveInteger(opts.rampRecoveryMs, 'rampRecoveryMs');
  }

  /**
   * Admits a call to `model` against its family's request, input-token and output-token budgets,
   * all three at once or none. Waits for budget up to `waitMs`; beyond that throws
   * `RateLimitExceededError` with `retryAfter`. Throws `SpendCapError` while the cap is reached,
   * and `TOLLGATE_STORE_TIMEOUT` / `TOLLGATE_STORE_UNAVAILABLE` when the store (buckets or
   * budgets) does not answer within `timeoutMs` or fails: nothing is admitted without it.
   */
  async checkLimit(model: string, given: CallEstimate = {}): Promise<Reservation> {
    // Own properties only: a polluted Object.prototype must not set a tenant, a wait or a size.
    const estimate = assertOptionsObject(given, 'estimate') as CallEstimate;
    const waitMs = estimate.waitMs === undefined ? this.maxWaitMs : waitLimit(estimate.waitMs, 'waitMs');
    this.assertSpendCapOpen();
    const family = modelFamily(model, this.families);
    const policies = this.policiesFor(family);
    const [rpm, itpm, otpm] = policies as [Policy, Policy, Policy];
    const input = Math.min(itpm.capacity, this.inputEstimate(estimate));
    const output = Math.min(otpm.capacity, this.outputs.reserve(model, optionalCount(estimate.maxTokens, 'maxTokens')));
    const requests = Math.min(rpm.capacity, 1 / this.rampFactor());
    const costs = [requests, input, output];
    const key = this.bucketKey(family);
    const budget = await this.holdBudget(model, estimate.tenant, input, estimate.maxTokens ?? otpm.capacity);
    const deadline = Date.now() + waitMs;
    try {
      for (;;) {
        const result = await storeCall('rate limit store', this.timeoutMs, () =>
          this.store.consume(key, policies, costs),
        );
        if (result.allowed) return this.reservation(model, family, key, policies, input, output, budget);
        const decision = refusal(policies, result.tokens, costs);
        const wait = decision.retryAfterMs + Math.floor(Math.random() * 25);
        if (Date.now() + wait > deadline) throw new RateLimitExceededError(decision);
        claudeMetrics.wait(model);
        await sleep(wait);
      }
    } catch (error) {
      // Not awaited: a store that just failed would make the caller wait again for its error. On
      // one connection the release still goes before any later reservation; if it is lost, the
      // hold expires by itself.
      if (budget !== undefined) {
        this.budgetStore
          .settle(budget.periods, budget.id, 0)
          .catch((lost: unknown) => this.storeWriteFailed('budget', model, lost, { released: budget.id }));
      }
      throw error;
    }
  }

  /** Holds the call's worst-case cost against every budget that is set, or throws BudgetExceededError. */
  private async holdBudget(
    model: string,
    tenant: string | undefined,
    input: number,
    maxOutput: number,
  ): Promise<{ periods: BudgetPeriod[]; id: string } | undefined> {
    if (this.budgets === undefined) return undefined;
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) {
      throw new InvalidOptionError('tenant', tenant, 'accepted: a non-empty string');
    }
    const scope = tenant === undefined ? 'app' : `t-${storeKey(tenant)}`;
    const periods = budgetPeriods(scope, this.budgets, Date.now());
    const zero = { input: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 0 };
    const worst = priceCall(this.prices, safeModelId(model), { ...zero, input, output: maxOutput }).micros;
    const held = await this.budgetStore.reserve(periods, worst, Date.now() + BUDGET_HOLD_MS);
    if ('refused' in held) throw new BudgetExceededError(held.refused.period, new Date(held.refused.endsAt));
    return { periods, id: held.id };
  }

  /**
   * Prices `usage` for `model` and adds it to the ledger; returns the cost in USD. A ledger that
   * fails or does not answer within `timeoutMs` does not make this throw (the call is made and
   * paid for): the entry is logged with its tokens and cost, counted in
   * `tollgate_claude_store_writes_failed_total{write="ledger"}`, and is not retried, so it may be
   * missing from `getUsageStats`.
   */
  async recordUsage(model: string, usage: ClaudeUsage, given: RecordOptions = {}): Promise<number> {
    const options = assertOptionsObject(given, 'recordUsage options') as RecordOptions;
    const tokens = tokenCounts(usage);
    const safe = safeModelId(model);
    const { micros, priced } = priceCall(this.prices, safe, tokens, options.batch === true);
    if (!priced) this.logger.warn({ model: safe }, 'Claude model has no price: usage counted as unpriced');
    const entry = {
      day: utcDay(Date.now()),
      model: safe,
      tokens,
      micros,
      priced,
      success: options.success !== false,
      requestId: options.requestId,
    };
    let recorded: boolean;
    try {
      recorded = await this.ledger.record(entry);
    } catch (error) {
      // The entry in the log line is enough to add it by hand; the process's metrics still count it.
      this.storeWriteFailed('ledger', safe, error, { entry });
      recorded = true;
    }
    // A request id seen before was counted then: neither the ledger nor the metrics count it again.
    if (recorded) claudeMetrics.usage(safe, tokens, micros, priced);
    return micros / 1_000_000;
  }

  /**
   * Calls, tokens by kind and cost, per UTC day and model, for the last `days` days (today
   * included). Throws `TOLLGATE_STORE_TIMEOUT` / `TOLLGATE_STORE_UNAVAILABLE` when the ledger
   * does not answer within `timeoutMs` or fails.
   */
  async getUsageStats({ days = 7 }: { days?: number } = {}): Promise<UsageStats> {
    if (!Number.isSafeInteger(days) || days < 1 || days > LEDGER_DAYS) {
      throw new InvalidOptionError('days', days, `accepted: a whole number from 1 to ${LEDGER_DAYS}`);
    }
    const today = Date.now();
    const dates = Array.from({ length: days }, (_, i) => utcDay(today - i * 86_400_000));
    const counters = await this.ledger.read(dates);
    const total = emptyUsage();
    const models: Record<string, ModelUsage> = {};
    const out: UsageStats['days'] = [];
    for (const date of dates) {
      const day = { ...emptyUsage(), date, models: {} as Record<string, ModelUsage> };
      for (const [model, fields] of Object.entries(counters.get(date) ?? {})) {
        const usage = fromCounters(fields);
        day.models[model] = usage;
        addInto(day, usage);
        models[model] ??= emptyUsage();
        addInto(models[model], usage);
      }
      addInto(total, day);
      out.push(day);
    }
    return { ...total, pricesAsOf: PRICES_AS_OF, days: out, models };
  }

  /**
   * Checks the limits, makes the call, settles the reservation and records the usage, retrying
   * what may be retried with exponential backoff and full jitter, or after the server's
   * `retry-after`. Set the SDK's own `maxRetries` to 0: `run` is the one retry owner.
   * `call` may return a Message or `.withResponse()`'s `{ data, response }` (which also lets the
   * buckets follow the server's rate-limit headers).
   */
  async run<R>(
    model: string,
    request: { max_tokens?: number },
    call: (request: never) => Promise<R>,
    estimate: Omit<CallEstimate, 'request' | 'maxTokens'> = {},
  ): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      const reservation = await this.checkLimit(model, {
        ...estimate,
        request,
        ...(request.max_tokens === undefined ? {} : { maxTokens: request.max_tokens }),
      });
      let result: R;
      try {
        result = await call(request as never);
      } catch (error) {
        const failure = classifyFailure(error);
        // Together, so a store that went away during the call costs one timeoutMs, not two.
        await Promise.all([
          reservation.settle(undefined, (error as { headers?: unknown })?.headers),
          this.recordUsage(model, { input_tokens: 0, output_tokens: 0 }, { success: false }),
        ]);
        if (failure.kind === 'spend-cap') {
          claudeMetrics.call(model, 'spend_cap');
          const until = nextMonthStartUtc(Date.now());
          this.spendCap = { until, errorCode: failure.errorCode ?? 'spend_limit_reached' };
          this.logger.error(
            { model, errorCode: failure.errorCode, until: new Date(until).toISOString() },
            'Claude API spend cap reached: refusing calls until it resets',
          );
          throw new SpendCapError(this.spendCap.errorCode, new Date(until), { cause: error });
        }
        if (failure.kind === 'ramp') this.halveRate();
        if (!failure.retry || attempt >= this.maxRetries) {
          claudeMetrics.call(model, 'error');
          throw error;
        }
        const wait = failure.retryAfterMs ?? backoffMs(attempt, this.baseMs, this.capMs);
        // A server that asks for a longer wait than the caller allows gets its error back now.
        if (wait > (estimate.waitMs ?? this.maxWaitMs)) {
          claudeMetrics.call(model, 'error');
          throw error;
        }
        claudeMetrics.retry(model, failure.kind);
        await sleep(wait);
        continue;
      }
      claudeMetrics.call(model, 'success');
      const { usage, headers, requestId } = unpack(result);
      if (usage === undefined) {
        await reservation.settle(undefined, headers);
        return result;
      }
      await Promise.all([
        reservation.settle(usage, headers),
        this.recordUsage(model, usage, { success: true, ...(requestId === undefined ? {} : { requestId }) }),
      ]);
      return result;
    }
  }

  private reservation(
    model: string,
    family: string,
    key: string,
    policies: readonly Policy[],
    input: number,
    output: number,
    budget: { periods: BudgetPeriod[]; id: string } | undefined,
  ): Reservation {
    let settled = false;
    return {
      model,
      family,
      inputTokens: input,
      outputTokens: output,
      settle: async (usage, headers) => {
        if (settled) return;
        // Malformed usage throws here, before anything is marked or moved.
        const tokens = usage === undefined ? undefined : tokenCounts(usage);
        settled = true;
        let deltas = [0, -input, -output];
        if (tokens !== undefined) {
          deltas = [0, rateLimitedInput(tokens) - input, tokens.output - output];
          this.outputs.observe(model, tokens.output);
        }
        const ceilings = serverRemaining(headers, policies);
        const spent = tokens === undefined ? 0 : priceCall(this.prices, safeModelId(model), tokens).micros;
        // The buckets and the budget at once: a store that went away costs one timeoutMs, not two.
        await Promise.all([
          this.settleBuckets(model, key, policies, deltas, ceilings),
          budget === undefined ? undefined : this.settleBudget(model, budget, spent),
        ]);
      },
    };
  }

  /** Gives back or charges the difference, then lowers to the server's figures. Never throws. */
  private async settleBuckets(
    model: string,
    key: string,
    policies: readonly Policy[],
    deltas: readonly number[],
    ceilings: readonly number[] | undefined,
  ): Promise<void> {
    const store = this.store as Required<Pick<Store, 'adjust' | 'lower'>>;
    try {
      await storeCall('rate limit store', this.timeoutMs, () => store.adjust(key, policies, deltas));
      if (ceilings !== undefined) {
        await storeCall('rate limit store', this.timeoutMs, () => store.lower(key, policies, ceilings));
      }
    } catch (error) {
      // The buckets keep the estimate instead of the real usage, and refill within a minute.
      this.storeWriteFailed('buckets', model, error, { deltas });
    }
  }

  /** Replaces the budget hold with the real cost. Never throws. */
  private async settleBudget(model: string, budget: { periods: BudgetPeriod[]; id: string }, micros: number) {
    try {
      await this.budgetStore.settle(budget.periods, budget.id, micros);
    } catch (error) {
      // The hold expires by itself; the spend is missing from the budget.
      this.storeWriteFailed('budget', model, error, { spentMicros: micros, periods: budget.periods.map((p) => p.key) });
    }
  }

  /** A write after a call that the store did not confirm: logged with what was lost, and counted. */
  private storeWriteFailed(write: ClaudeStoreWrite, model: string, error: unknown, lost: object): void {
    claudeMetrics.storeWriteFailed(model, write);
    const code = error instanceof TollgateError ? error.code : undefined;
    const reason = error instanceof Error ? error.message : String(error);
    const what = {
      ledger: 'usage not recorded in the ledger',
      budget: 'spend not settled in the budget',
      buckets: 'reservation not settled in the rate limit store',
    }[write];
    const fields = { model: safeModelId(model), write, code, error: reason, ...lost };
    if (write === 'buckets') this.logger.warn(fields, `Claude ${what}: the store failed or timed out`);
    else this.logger.error(fields, `Claude ${what}: the store failed or timed out`);
  }

  private inputEstimate(estimate: CallEstimate): number {
    const given = optionalCount(estimate.inputTokens, 'inputTokens');
    return given ?? estimateInputTokens(estimate.request);
  }

  private policiesFor(family: string): readonly Policy[] {
    let policies = this.policies.get(family);
    if (policies === undefined) {
      const limits = this.limits[family] ?? this.limits['*'] ?? DEFAULT_LIMITS;
      // Each bucket gets its own field even when two limits are equal.
      policies = (['rpm', 'itpm', 'otpm'] as const).map((kind) => {
        const max = limits[kind];
        const windowMs = 60_000;
        const id = `${kind}:${policyId({ max, windowMs, capacity: max })}`;
        return Object.freeze({ max, windowMs, capacity: max, ratePerMs: max / windowMs, id, label: `${max}-per-1m` });
      });
      this.policies.set(family, policies);
    }
    return policies;
  }

  private bucketKey(family: string): string {
    return `${this.prefix}:llm:${storeKey(family)}`;
  }

  private assertSpendCapOpen(): void {
    if (this.spendCap === undefined) return;
    if (Date.now() >= this.spendCap.until) {
      this.spendCap = undefined;
      return;
    }
    throw new SpendCapError(this.spendCap.errorCode, new Date(this.spendCap.until));
  }

  /** A ramp 429 halves the admission rate; it climbs back linearly over `rampRecoveryMs`. */
  private halveRate(): void {
    const factor = Math.max(1 / 16, this.rampFactor() / 2);
    this.ramp = { at: Date.now(), factor };
    this.logger.warn({ factor }, 'Claude API ramp limit: admission rate reduced');
  }

  private rampFactor(): number {
    if (this.ramp === undefined) return 1;
    const { at, factor } = this.ramp;
    const recovered = factor + ((1 - factor) * (Date.now() - at)) / this.rampRecoveryMs;
    if (recovered >= 1) {
      this.ramp = undefined;
      return 1;
    }
    return recovered;
  }
}

/** The response's usage, headers and request id, from a Message or from `{ data, response }`. */
function unpack(result: unknown): { usage: ClaudeUsage | undefined; headers: unknown; requestId: string | undefined } {
  const r = (typeof result === 'object' && result !== null ? result : {}) as Record<string, unknown>;
  const withResponse = 'data' in r && typeof r.response === 'object' && r.response !== null;
  const message = (withResponse ? r.data : r) as Record<string, unknown> | undefined;
  const headers = withResponse ? (r.response as { headers?: unknown }).headers : undefined;
  const id =
    (withResponse ? r.request_id : undefined) ?? message?._request_id ?? headerValue(headers as never, 'request-id');
  return {
    usage: message?.usage as ClaudeUsage | undefined,
    headers,
    requestId: typeof id === 'string' ? id : undefined,
  };
}

/** What the server says is left, as ceilings for [requests, input, output]; undefined if it said nothing. */
function serverRemaining(headers: unknown, policies: readonly Policy[]): number[] | undefined {
  if (headers === undefined || headers === null) return undefined;
  const names = ['requests', 'input-tokens', 'output-tokens'];
  let any = false;
  const ceilings = names.map((name, i) => {
    const raw = headerValue(headers as never, `anthropic-ratelimit-${name}-remaining`);
    const n = raw === undefined ? Number.NaN : Number(raw);
    if (!Number.isFinite(n) || n < 0) return (policies[i] as Policy).capacity;
    any = true;
    return n;
  });
  return any ? ceilings : undefined;
}

function parseLimits(value: unknown): Readonly<Record<string, FamilyLimits>> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) {
    throw new InvalidOptionError(
      'limits',
      value,
      "accepted: { [familyOrModel]: { rpm, itpm, otpm } }, with '*' for the rest",
    );
  }
  const out: Record<string, FamilyLimits> = {};
  for (const [name, limits] of Object.entries(value)) {
    const l = assertOptionsObject(limits, `limits.${name}`);
    assertKnownOptions(l, new Set(['rpm', 'itpm', 'otpm']), `limits.${name}`);
    out[name] = {
      rpm: tokenCount(l.rpm, `limits.${name}.rpm`),
      itpm: tokenCount(l.itpm, `limits.${name}.itpm`),
      otpm: tokenCount(l.otpm, `limits.${name}.otpm`),
    };
  }
  return Object.freeze(out);
}

/** Limits given by model id apply to the model's whole family (which shares one budget). */
function byFamily(
  limits: Readonly<Record<string, FamilyLimits>>,
  families: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, FamilyLimits>> {
  const out: Record<string, FamilyLimits> = {};
  for (const [name, value] of Object.entries(limits)) {
    const family = name === '*' ? name : modelFamily(name, families);
    const seen = out[family];
    if (seen !== undefined && (seen.rpm !== value.rpm || seen.itpm !== value.itpm || seen.otpm !== value.otpm)) {
      throw new InvalidOptionError(
        `limits.${name}`,
        value,
        `it shares the ${family} budget with another entry that sets different limits`,
      );
    }
    out[family] = value;
  }
  return Object.freeze(out);
}

function parseBudgets(value: unknown): { daily?: number; monthly?: number } | undefined {
  if (value === undefined) return undefined;
  const budgets = assertOptionsObject(value, 'budgets');
  assertKnownOptions(budgets, new Set(['daily', 'monthly']), 'budgets');
  const out: { daily?: number; monthly?: number } = {};
  for (const period of ['daily', 'monthly'] as const) {
    const usd = budgets[period];
    if (usd === undefined) continue;
    if (typeof usd !== 'number' || !Number.isFinite(usd) || usd <= 0) {
      throw new InvalidOptionError(`budgets.${period}`, usd, 'accepted: an amount in US dollars > 0');
    }
    out[period] = usd;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function optionalCount(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TollgateError(
      ErrorCodes.INVALID_USAGE,
      `tollgate: ${option} must be a whole number of tokens >= 0, got ${String(value)}`,
    );
  }
  return value;
}

/** A longest wait: 0 (never wait) up to the longest timer Node honours (longer fires at once). */
function waitLimit(value: unknown, option: string): number {
  return value === 0 ? 0 : timerMs(value, option);
}

function nonNegativeInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(option, value, 'accepted: a whole number >= 0');
  }
  return value;
}

function safeName(value: unknown, option: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(value)) {
    throw new InvalidOptionError(option, value, 'accepted: 1 to 64 letters, digits, "_", "." or "-"');
  }
  return value;
}

function emptyUsage(): ModelUsage {
  return {
    calls: 0,
    errors: 0,
    unpricedCalls: 0,
    costMicros: 0,
    costUsd: 0,
    tokens: { input: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0, output: 0 },
  };
}

function fromCounters(fields: Record<string, number>): ModelUsage {
  const tokens = Object.fromEntries(TOKEN_KINDS.map((k) => [k, fields[k] ?? 0])) as unknown as TokenCounts;
  const costMicros = fields.costMicros ?? 0;
  return {
    calls: fields.calls ?? 0,
    errors: fields.errors ?? 0,
    unpricedCalls: fields.unpriced ?? 0,
    costMicros,
    costUsd: costMicros / 1e6,
    tokens,
  };
}

function addInto(into: ModelUsage, add: ModelUsage): void {
  into.calls += add.calls;
  into.errors += add.errors;
  into.unpricedCalls += add.unpricedCalls;
  into.costMicros += add.costMicros;
  into.costUsd = into.costMicros / 1e6;
  const tokens = { ...into.tokens } as Record<string, number>;
  for (const k of TOKEN_KINDS) tokens[k] = (tokens[k] ?? 0) + add.tokens[k];
  into.tokens = tokens as unknown as TokenCounts;
}

/** The Redis connection of a store that can share one (RedisStore's `connection()`), else undefined. */
function sharedConnection(store: Store): (() => Promise<RedisConnection>) | undefined {
  const capable = store as Store & { connection?: unknown };
  if (typeof capable.connection !== 'function') return undefined;
  return () => (capable.connection as () => Promise<RedisConnection>).call(store);
}
