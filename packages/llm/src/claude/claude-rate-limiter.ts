import {
  type CircuitOptions,
  consoleLogger,
  InvalidOptionError,
  type Logger,
  MemoryStore,
  type RedisClientLike,
  RedisStore,
  type Store,
} from '@tollgate/core';
import {
  assertKnownOptions,
  assertOptionsObject,
  isLogger,
  parseCircuitOptions,
  positiveInteger,
  timerMs,
} from '@tollgate/core/adapter';
import type { FamilyStatus } from '../engine/family-status.js';
import { LlmLimiter } from '../engine/llm-limiter.js';
import { nonNegativeInteger, parseBudgets, parseLimits, safeName, waitLimit } from '../engine/options.js';
import { runWithRetries, streamsSettled } from '../engine/retry-loop.js';
import { storeTimeoutMs } from '../engine/store-call.js';
import { FAIL_MODES, type FailMode } from '../engine/store-guard.js';
import { chooseSharing } from '../engine/store-sharing.js';
import type {
  CallEstimate,
  Reservation as EngineReservation,
  FamilyLimits,
  RecordOptions,
  UsageStats,
} from '../engine/types.js';
import { type CountTokensOptions, InputCounter } from './count-tokens.js';
import { modelFamily } from './families.js';
import { modelId } from './model-id.js';
import { type ModelPrice, PRICES_AS_OF } from './prices.js';
import { priceTable } from './pricing.js';
import { claudeProvider } from './provider.js';
import type { ClaudeUsage } from './usage.js';

export type { CallEstimate, FamilyLimits, ModelUsage, RecordOptions, UsageStats } from '../engine/types.js';

/** The options of `new ClaudeRateLimiter()`; all are optional. */
export interface ClaudeRateLimiterOptions {
  /** An ioredis, node-redis or Valkey GLIDE client: buckets, the usage ledger and budgets live in Redis, shared by every instance. */
  redis?: RedisClientLike;
  /**
   * Or a store for the buckets (default: in memory, for one process). One that can share its
   * connection (`connection()`, as `RedisStore`) keeps the ledger and budgets there too.
   */
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
   * (default 500, as `RateLimiter`). Before a call, a store that fails or does not answer is
   * answered by `failMode` (a budget hold is refused: `TOLLGATE_STORE_TIMEOUT` or
   * `TOLLGATE_STORE_UNAVAILABLE`); after one, what could not be written is logged and counted,
   * never thrown.
   */
  timeoutMs?: number;
  /**
   * What admits calls while the store is down (it failed, timed out, or its circuit breaker is
   * open), as `RateLimiter`'s: `'local'` (default) buckets in this process with the same limits,
   * `'open'` admits every call, `'closed'` refuses with `TOLLGATE_STORE_TIMEOUT` /
   * `TOLLGATE_STORE_UNAVAILABLE`. Budgets are money: a budget hold the store cannot confirm is
   * refused whatever the mode.
   */
  failMode?: FailMode;
  /**
   * Core's circuit breaker over the store, as `RateLimiter`'s `circuit`: after 5 failures in a row
   * (default) store calls fail at once until a probe finds the store back; `false` turns it off.
   */
  circuit?: boolean | CircuitOptions;
  /**
   * Ask the API's free token-counting endpoint for each call's exact input (when the call does
   * not give `inputTokens`), within the endpoint's own `rpm` (default 100): `{ count: (p) =>
   * anthropic.messages.countTokens(p) }`. When its bucket is empty or it fails, the estimate serves.
   */
  countTokens?: CountTokensOptions;
  logger?: Logger;
}

/** Budget held for one admitted Claude call until its real usage is known. Settle it exactly once. */
export type Reservation = EngineReservation<ClaudeUsage>;

const KNOWN = new Set([
  'countTokens',
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
  'failMode',
  'circuit',
  'logger',
]);

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
  private readonly engine: LlmLimiter;
  private readonly counter: InputCounter | undefined;

  constructor(options: ClaudeRateLimiterOptions = {}) {
    const opts = assertOptionsObject(options, 'ClaudeRateLimiter');
    assertKnownOptions(opts, KNOWN, 'ClaudeRateLimiter');
    const prefix = opts.prefix === undefined ? 'tollgate' : safeName(opts.prefix, 'prefix');
    if (opts.redis !== undefined && opts.store !== undefined) {
      throw new InvalidOptionError('store', opts.store, 'give either `redis` or `store`, not both');
    }
    if (opts.logger !== undefined && !isLogger(opts.logger)) {
      throw new InvalidOptionError('logger', opts.logger, 'accepted: an object with info, warn and error methods');
    }
    const logger = (opts.logger as Logger | undefined) ?? consoleLogger;
    const timeoutMs = storeTimeoutMs(opts.timeoutMs);
    const failMode = opts.failMode === undefined ? 'local' : (opts.failMode as FailMode);
    if (!FAIL_MODES.includes(failMode)) {
      throw new InvalidOptionError(
        'failMode',
        opts.failMode,
        `accepted: ${FAIL_MODES.map((m) => `'${m}'`).join(', ')}`,
      );
    }
    const circuit = parseCircuitOptions(opts.circuit);
    const budgets = parseBudgets(opts.budgets);
    const store: Store =
      opts.redis !== undefined
        ? // The store's own bound is the limiter's, so a timeoutMs above the store's default holds too.
          new RedisStore({ client: opts.redis as RedisClientLike, timeoutMs, logger })
        : ((opts.store as Store | undefined) ?? new MemoryStore());
    if (typeof store.adjust !== 'function' || typeof store.lower !== 'function') {
      throw new InvalidOptionError(
        'store',
        opts.store,
        'the Claude limiter needs a store with adjust() and lower(): MemoryStore or RedisStore',
      );
    }
    const sharing = chooseSharing(store, opts.store, { prefix, timeoutMs, budgets: budgets !== undefined, logger });
    const families = opts.families as Record<string, string> | undefined;
    const provider = claudeProvider(families, priceTable(opts.pricing));
    const retry = assertOptionsObject(opts.retry, 'retry');
    assertKnownOptions(retry, new Set(['maxRetries', 'baseMs', 'capMs']), 'retry');
    this.counter =
      opts.countTokens === undefined
        ? undefined
        : new InputCounter(opts.countTokens, store, { prefix, timeoutMs, logger });
    this.engine = new LlmLimiter(provider, {
      store,
      sharing,
      budgets,
      limits: parseLimits(opts.limits, (model) => modelFamily(model, families)),
      prefix,
      retry: {
        maxRetries: retry.maxRetries === undefined ? 4 : nonNegativeInteger(retry.maxRetries, 'retry.maxRetries'),
        baseMs: retry.baseMs === undefined ? 500 : timerMs(retry.baseMs, 'retry.baseMs'),
        capMs: retry.capMs === undefined ? 30_000 : timerMs(retry.capMs, 'retry.capMs'),
      },
      maxWaitMs: opts.maxWaitMs === undefined ? 60_000 : waitLimit(opts.maxWaitMs, 'maxWaitMs'),
      rampRecoveryMs:
        opts.rampRecoveryMs === undefined ? 300_000 : positiveInteger(opts.rampRecoveryMs, 'rampRecoveryMs'),
      timeoutMs,
      failMode,
      circuit: circuit ?? false,
      logger,
      pricesAsOf: PRICES_AS_OF,
    });
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
    const id = modelId(model);
    const estimate = assertOptionsObject(given, 'estimate') as CallEstimate;
    if (this.counter === undefined) return this.engine.checkLimit(id, estimate);
    return this.counted(estimate, estimate.request).then((counted) => this.engine.checkLimit(id, counted));
  }

  /**
   * Prices `usage` for `model` and adds it to the ledger; returns the cost in USD, or `null` when
   * the model has no price (counted as unpriced, never as $0). A ledger that
   * fails or does not answer within `timeoutMs` does not make this throw (the call is made and
   * paid for): the entry is logged with its tokens and cost, counted in
   * `tollgate_claude_store_writes_failed_total{write="ledger"}`, and is not retried, so it may be
   * missing from `getUsageStats`.
   */
  async recordUsage(model: string, usage: ClaudeUsage, given: RecordOptions = {}): Promise<number | null> {
    return this.engine.recordUsage(
      modelId(model),
      usage,
      assertOptionsObject(given, 'recordUsage options') as RecordOptions,
    );
  }

  /**
   * Calls, tokens by kind and cost, per UTC day and model, for the last `days` days (today
   * included). Throws `TOLLGATE_STORE_TIMEOUT` / `TOLLGATE_STORE_UNAVAILABLE` when the ledger
   * does not answer within `timeoutMs` or fails.
   */
  getUsageStats({ days = 7 }: { days?: number } = {}): Promise<UsageStats> {
    return this.engine.getUsageStats(days);
  }

  /**
   * Checks the limits, makes the call, settles the reservation and records the usage, retrying
   * what may be retried with exponential backoff (as the SDK: 0.5 s doubling, less up to 25%
   * jitter), or after the server's `retry-after`. Set the SDK's own `maxRetries` to 0: `run` is
   * the one retry owner. A call retried after errors is recorded as one call of several attempts.
   *
   * `call` may return a Message, `.withResponse()`'s `{ data, response }` (which also lets the
   * buckets follow the server's rate-limit headers), or a stream: `messages.create({ stream:
   * true })`'s `Stream` (or its `.withResponse()`) or `messages.stream()`'s `MessageStream`. A
   * stream is returned once its first event arrived (an error before that is retried), and is
   * settled and recorded from its own usage events when it is over, cut off or failed part-way
   * included; an error after the first event is the caller's, not retried. Throws
   * `TOLLGATE_INVALID_MODEL` for a model id that is not one.
   */
  run<R, Q extends { max_tokens?: number } = { max_tokens?: number }>(
    model: string,
    request: Q,
    call: (request: never) => R | PromiseLike<R>,
    estimate: Omit<CallEstimate, 'request' | 'maxTokens'> = {},
  ): Promise<R> {
    return Promise.resolve().then(async () => {
      const id = modelId(model);
      return runWithRetries(this.engine, id, request, call, await this.counted(estimate, request));
    });
  }

  /** The estimate with the counted input, when `countTokens` is set and the caller gave none. */
  private async counted<E extends { inputTokens?: number }>(estimate: E, request: unknown): Promise<E> {
    if (this.counter === undefined || estimate.inputTokens !== undefined) return estimate;
    const inputTokens = await this.counter.inputTokens(request);
    return inputTokens === undefined ? estimate : { ...estimate, inputTokens };
  }

  /**
   * What is left of `model`'s family buckets now (requests, input tokens, output tokens per
   * minute: limit, size, remaining, ms until full), without taking anything; as the CLI's
   * `tollgate claude status`. Throws the store's `TOLLGATE_STORE_*` errors.
   */
  async status(model: string): Promise<FamilyStatus> {
    return this.engine.status(modelId(model));
  }

  /**
   * Fills `model`'s family buckets again, for every process sharing the store (the admin reset;
   * a pause a 429 set is lifted too); as the CLI's `tollgate claude reset`.
   */
  async reset(model: string): Promise<void> {
    return this.engine.reset(modelId(model));
  }

  /**
   * Resolves once every stream `run` has handed out so far is over and its usage settled and
   * recorded: before reading `getUsageStats` in a test, or on shutdown. A stream nobody reads
   * to its end (or breaks out of) stays open, and so does this.
   */
  settled(): Promise<void> {
    return streamsSettled(this.engine);
  }
}
