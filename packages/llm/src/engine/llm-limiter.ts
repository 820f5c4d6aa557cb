import {
  InvalidOptionError,
  type Logger,
  MemoryStore,
  type Policy,
  RateLimitExceededError,
  type Store,
  type StoreResult,
} from '@tollgate/core';
import { type CircuitConfig, parseCircuitOptions, positiveInteger, storeKey } from '@tollgate/core/adapter';
import { type BudgetPeriod, budgetCost, budgetPeriods } from './budget.js';
import { BudgetExceededError } from './budget-exceeded-error.js';
import { FamilyBuckets } from './family-buckets.js';
import { type FamilyStatus, familyStatus } from './family-status.js';
import { LEDGER_DAYS, utcDay } from './ledger.js';
import { optionalCount, waitLimit } from './options.js';
import { InputCorrection, learningFrom, OutputEstimator } from './output-estimator.js';
import type { CallOutcome, LlmProvider } from './provider.js';
import { Ramp } from './ramp.js';
import { refusal } from './refusal.js';
import { SpendCapGate } from './spend-cap.js';
import { type FailMode, isStoreFailure, StoreGuard } from './store-guard.js';
import type { Sharing } from './store-sharing.js';
import { NO_TOKENS, type TokenCounts } from './tokens.js';
import type { CallEstimate, FamilyLimits, RecordOptions, Reservation, UsageStats } from './types.js';
import { usageStats } from './usage-stats.js';
import { type FamilyLine, POLL_MS, WaitLines } from './waiters.js';
import { reportWriteFailure } from './write-failures.js';

/** A budget hold left by a process that died stops counting after this long. */
const BUDGET_HOLD_MS = 10 * 60_000;

/** An admission's answer and the store that gave it (undefined: `failMode: 'open'` admitted it unseen). */
interface Admission extends StoreResult {
  readonly store: Store | undefined;
}

/** Everything the engine runs on, parsed and checked by the provider's limiter class. */
export interface EngineConfig {
  readonly store: Store;
  readonly sharing: Sharing;
  readonly budgets: { daily?: number; monthly?: number } | undefined;
  readonly limits: Readonly<Record<string, FamilyLimits>>;
  readonly prefix: string;
  readonly retry: { readonly maxRetries: number; readonly baseMs: number; readonly capMs: number };
  readonly maxWaitMs: number;
  readonly rampRecoveryMs: number;
  readonly timeoutMs: number;
  /** What admits calls while the store is down: `local` buckets (default), `open`, or `closed` (refuse). */
  readonly failMode?: FailMode;
  /** Core's circuit breaker settings for the store (default core's); `false` turns it off. */
  readonly circuit?: CircuitConfig | false;
  readonly logger: Logger;
  /** The price table's date, reported by `getUsageStats`. */
  readonly pricesAsOf: string;
}

/** A held budget: the periods it counts against and the hold's id. */
export interface BudgetHold {
  readonly periods: BudgetPeriod[];
  readonly id: string;
}

/**
 * The provider-neutral engine: admission over a family's request, input-token and output-token
 * buckets (all or none), waiting for room, settling reservations, spend budgets, the usage
 * ledger, the spend-cap gate and the ramp. The retry loop is `run` (retry-loop.ts). What is
 * particular to one API comes from its `LlmProvider`.
 */
export class LlmLimiter {
  readonly outputs = new OutputEstimator();
  readonly inputs = new InputCorrection();
  readonly ramp: Ramp;
  readonly spendCap = new SpendCapGate();
  readonly guard: StoreGuard;
  private readonly failMode: FailMode;
  private readonly buckets: FamilyBuckets;
  private readonly lines = new WaitLines();
  private readonly sharing: EngineConfig['sharing'];
  /** `failMode: 'local'`: the buckets this process keeps while the store is down. */
  private local: MemoryStore | undefined;

  constructor(
    readonly provider: LlmProvider,
    readonly config: EngineConfig,
  ) {
    this.ramp = new Ramp(config.rampRecoveryMs);
    this.buckets = new FamilyBuckets(config.limits, config.prefix, (kind, limit) =>
      provider.defaultBurst === undefined ? limit : provider.defaultBurst(kind, limit),
    );
    this.failMode = config.failMode ?? 'local';
    const circuit = config.circuit === undefined ? parseCircuitOptions(undefined) : config.circuit || undefined;
    // The circuit's metrics name the limiter by its prefix: bounded, and the same across a fleet.
    const label = `${provider.label} limiter`;
    this.guard = new StoreGuard(config.timeoutMs, circuit, config.logger, label, this.failMode, `llm:${config.prefix}`);
    this.sharing = this.guard.share(config.sharing);
    provider.metrics.init();
  }

  async checkLimit(model: string, estimate: CallEstimate): Promise<Reservation> {
    const waitMs = estimate.waitMs === undefined ? this.config.maxWaitMs : waitLimit(estimate.waitMs, 'waitMs');
    this.spendCap.assertOpen();
    const family = this.provider.family(model);
    const policies = this.buckets.of(family);
    const [rpm, itpm, otpm] = policies as [(typeof policies)[0], (typeof policies)[0], (typeof policies)[0]];
    const given = optionalCount(estimate.inputTokens, 'inputTokens');
    // Estimated input is corrected by what the family's calls reported so far.
    const raw = given === undefined ? this.provider.estimateInput(estimate.request) : undefined;
    const input = Math.min(itpm.capacity, given ?? this.inputs.correct(family, raw as number));
    const output = Math.min(otpm.capacity, this.outputs.reserve(model, optionalCount(estimate.maxTokens, 'maxTokens')));
    const requests = Math.min(rpm.capacity, 1 / this.ramp.factor());
    const costs = [requests, input, output];
    const key = this.buckets.key(family);
    // The budget holds a true worst case: the most input the request can carry, not the estimate.
    const worstInput = given ?? this.provider.maxInput?.(estimate.request) ?? input;
    const budget = await this.holdBudget(model, estimate.tenant, worstInput, estimate.maxTokens ?? otpm.capacity);
    const deadline = Date.now() + waitMs;
    try {
      const reservation = await this.admit(model, family, key, costs, deadline, budget);
      return learningFrom(reservation, this.inputs, family, raw, this.provider);
    } catch (error) {
      // Not awaited: a store that just failed would make the caller wait again for its error. On
      // one connection the release still goes before any later reservation; if it is lost, the
      // hold expires by itself.
      if (budget !== undefined) {
        this.sharing.budgets
          .settle(budget.periods, budget.id, 0)
          .catch((lost: unknown) => this.writeFailed('budget', model, lost, { released: budget.id }));
      }
      throw error;
    }
  }

  /**
   * Takes `costs` from the family's buckets, waiting in line for room until `deadline`. Only the
   * first in line asks the store; it sleeps until the refill it was told (at most `POLL_MS`, to
   * see tokens other processes give back), or until a reservation of this process settles. A
   * wait past the deadline is refused at once unless what this process has in flight could
   * cover it once given back.
   */
  private async admit(
    model: string,
    family: string,
    key: string,
    costs: readonly number[],
    deadline: number,
    budget: BudgetHold | undefined,
  ): Promise<Reservation> {
    const line = this.lines.of(family);
    let waiter: ReturnType<FamilyLine['join']> | undefined = line.empty ? undefined : line.join();
    try {
      for (;;) {
        if (waiter !== undefined) await line.turn(waiter, deadline);
        const policies = this.buckets.of(family);
        // A limit learned meanwhile may have made a bucket smaller than the call.
        const taken = costs.map((cost, i) => Math.min(cost, policies[i]?.capacity ?? cost));
        const admitted = await this.consume(key, policies, taken);
        if (admitted.allowed) return this.reservation(model, family, key, taken, budget, admitted.store, line);
        const decision = refusal(policies, admitted.tokens, taken);
        line.lastRefusal = decision;
        const wait = decision.retryAfterMs + Math.floor(Math.random() * 25);
        const left = deadline - Date.now();
        if (left <= 0 || (wait > left && !line.couldCover(policies, admitted.tokens, taken, left))) {
          throw new RateLimitExceededError(decision);
        }
        if (waiter === undefined) {
          waiter = line.join();
          // Others joined while this call asked the store: they were first.
          if (!line.isFirst(waiter)) continue;
        }
        this.provider.metrics.wait(model);
        await line.sleep(waiter, Math.min(wait, POLL_MS, left));
      }
    } finally {
      if (waiter !== undefined) line.leave(waiter);
    }
  }

  /** One admission from the store, or from `failMode` when the store fails or its circuit is open. */
  private async consume(key: string, policies: readonly Policy[], costs: readonly number[]): Promise<Admission> {
    const { store } = this.config;
    const { failMode } = this;
    try {
      const result = await this.guard.call('rate limit store', () => store.consume(key, policies, costs));
      return { ...result, store };
    } catch (error) {
      if (!isStoreFailure(error) || failMode === 'closed') throw error;
      if (failMode === 'open') return { allowed: true, tokens: [], store: undefined };
      this.local ??= new MemoryStore();
      return { ...this.local.consume(key, policies, costs), store: this.local };
    }
  }

  /**
   * A quota refusal from the provider asked to wait `ms`: every call of the model's family waits
   * as long, in every process sharing the store. The request bucket is lowered so that it holds
   * one request exactly `ms` from now (a ceiling, so two processes pausing at once do not add up);
   * admission then waits for it as for any refill, and resumes at the steady rate, not a burst.
   * Never throws.
   */
  async pause(model: string, ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms <= 0) return;
    const family = this.provider.family(model);
    const policies = this.buckets.of(family);
    const key = this.buckets.key(family);
    const ceilings = policies.map((p, i) => (i === 0 ? 1 - p.ratePerMs * ms : p.capacity));
    this.config.logger.warn(
      { model: this.provider.safeModelId(model), family: storeKey(family), pauseMs: Math.round(ms) },
      `${this.provider.label} asked to wait: every call of the family waits as long`,
    );
    this.local?.lower(key, policies, ceilings);
    const { store } = this.config;
    const lower = store.lower as NonNullable<Store['lower']>;
    try {
      await this.guard.call('rate limit store', () => lower.call(store, key, policies, ceilings));
    } catch (error) {
      this.writeFailed('buckets', model, error, { pauseMs: ms });
    }
  }

  /** `model`'s family buckets as the store holds them now, nothing taken (the store's errors are thrown). */
  async status(model: string): Promise<FamilyStatus> {
    const family = this.provider.family(model);
    const policies = this.buckets.of(family);
    const key = this.buckets.key(family);
    const { store } = this.config;
    const result = await this.guard.call('rate limit store', () => store.peek(key, policies));
    return familyStatus(model, family, policies, result.tokens);
  }

  /** Fills `model`'s family buckets again (the admin reset; a pause from a 429 is lifted too), in every process. */
  async reset(model: string): Promise<void> {
    const family = this.provider.family(model);
    const key = this.buckets.key(family);
    this.local?.reset(key);
    const { store } = this.config;
    await this.guard.call('rate limit store', () => store.reset(key));
    this.config.logger.info({ family: storeKey(family) }, `${this.provider.label} family buckets reset`);
  }

  /** Holds the call's worst-case cost against every budget that is set, or throws BudgetExceededError. */
  private async holdBudget(
    model: string,
    tenant: string | undefined,
    input: number,
    maxOutput: number,
  ): Promise<BudgetHold | undefined> {
    if (this.config.budgets === undefined) return undefined;
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) {
      throw new InvalidOptionError('tenant', tenant, 'accepted: a non-empty string');
    }
    const scope = tenant === undefined ? 'app' : `t-${storeKey(tenant)}`;
    const periods = budgetPeriods(scope, this.config.budgets, Date.now());
    const safe = this.provider.safeModelId(model);
    const worst = budgetCost(this.provider, safe, { ...NO_TOKENS, input, output: maxOutput });
    const held = await this.sharing.budgets.reserve(periods, worst, Date.now() + BUDGET_HOLD_MS);
    if ('refused' in held) throw new BudgetExceededError(held.refused.period, new Date(held.refused.endsAt));
    return { periods, id: held.id };
  }

  async recordUsage(model: string, usage: unknown, options: RecordOptions): Promise<number | null> {
    return this.recordTokens(model, this.provider.tokenCounts(usage), options);
  }

  /**
   * Prices the tokens and adds them to the ledger (a failed call: no tokens) as one logical call,
   * counted in the calls metric (`outcome`, else from `success`); returns the cost in USD, or
   * null for a model without a price (never 0, which would read as free).
   */
  async recordTokens(
    model: string,
    tokens: TokenCounts,
    options: RecordOptions,
    outcome?: CallOutcome,
  ): Promise<number | null> {
    const attempts = options.attempts === undefined ? 1 : positiveInteger(options.attempts, 'attempts');
    const safe = this.provider.safeModelId(model);
    const { micros, priced } = this.provider.price(safe, tokens, options.batch === true);
    if (!priced)
      this.config.logger.warn({ model: safe }, `${this.provider.label} model has no price: usage counted as unpriced`);
    const entry = {
      day: utcDay(Date.now()),
      model: safe,
      tokens,
      micros,
      priced,
      success: options.success !== false,
      attempts,
      requestId: options.requestId,
    };
    let recorded: boolean;
    try {
      recorded = await this.sharing.ledger.record(entry);
    } catch (error) {
      // The entry in the log line is enough to add it by hand; the process's metrics still count it.
      this.writeFailed('ledger', safe, error, { entry });
      recorded = true;
    }
    // A request id seen before was counted then: neither the ledger nor the metrics count it again.
    if (recorded) {
      this.provider.metrics.usage(safe, tokens, micros, priced);
      // Calls recorded by hand count too, so the error-ratio alert sees them.
      this.provider.metrics.call(safe, outcome ?? (entry.success ? 'success' : 'error'));
    }
    return priced ? micros / 1_000_000 : null;
  }

  async getUsageStats(days: number): Promise<UsageStats> {
    if (!Number.isSafeInteger(days) || days < 1 || days > LEDGER_DAYS) {
      throw new InvalidOptionError('days', days, `accepted: a whole number from 1 to ${LEDGER_DAYS}`);
    }
    const today = Date.now();
    const dates = Array.from({ length: days }, (_, i) => utcDay(today - i * 86_400_000));
    return usageStats(dates, await this.sharing.ledger.read(dates), this.config.pricesAsOf);
  }

  /** A ramp refusal from the provider: the admission rate halves. */
  halveRate(): void {
    const factor = this.ramp.halve();
    this.config.logger.warn({ factor }, `${this.provider.label} ramp limit: admission rate reduced`);
  }

  private reservation(
    model: string,
    family: string,
    key: string,
    costs: readonly number[],
    budget: BudgetHold | undefined,
    store: Store | undefined,
    line: FamilyLine,
  ): Reservation {
    let settled = false;
    const [, input = 0, output = 0] = costs;
    line.hold(costs);
    return {
      model,
      family,
      inputTokens: input,
      outputTokens: output,
      settle: async (usage, headers) => {
        if (settled) return;
        // Malformed usage throws here, before anything is marked or moved.
        const tokens = usage === undefined ? undefined : this.provider.tokenCounts(usage);
        settled = true;
        try {
          let deltas = [0, -input, -output];
          if (tokens !== undefined) {
            deltas = [0, this.provider.rateLimitedInput(tokens) - input, tokens.output - output];
            this.outputs.observe(model, tokens.output);
          }
          const given = headers === undefined || headers === null ? undefined : headers;
          if (given !== undefined) this.learnLimits(model, family, given);
          const policies = this.buckets.of(family);
          const ceilings = given === undefined ? undefined : this.ceilings(policies, given);
          const safe = this.provider.safeModelId(model);
          const spent = tokens === undefined ? 0 : budgetCost(this.provider, safe, tokens);
          // The buckets and the budget at once: a store that went away costs one timeoutMs, not two.
          await Promise.all([
            store === undefined ? undefined : this.settleBuckets(model, store, key, policies, deltas, ceilings),
            budget === undefined ? undefined : this.settleBudget(model, budget, spent),
          ]);
        } finally {
          // Tokens given back (or the reservation over): the first waiter asks again now.
          line.release(costs);
        }
      },
    };
  }

  /**
   * What the server's headers say each bucket holds at most: what is left (`-remaining`), and
   * what a bucket that is full only at `-reset` can hold now, refilling at its limit per minute.
   */
  private ceilings(policies: readonly Policy[], headers: unknown): number[] | undefined {
    const left = this.provider.remaining(headers);
    const untilFull = this.provider.untilFull?.(headers);
    const limits = this.provider.limits?.(headers);
    if (left === undefined && untilFull === undefined) return undefined;
    return policies.map((policy, i) => {
      let ceiling = left?.[i] ?? Number.POSITIVE_INFINITY;
      const ms = untilFull?.[i];
      if (ms !== undefined) {
        const limit = limits?.[i] ?? policy.max;
        ceiling = Math.min(ceiling, limit - (limit / policy.windowMs) * ms);
      }
      return Number.isFinite(ceiling) ? ceiling : policy.capacity;
    });
  }

  /**
   * A limit the server reports below the configured one is used from then on (said once per
   * change), until the server reports the configured one (or more) again.
   */
  private learnLimits(model: string, family: string, headers: unknown): void {
    const limits = this.provider.limits?.(headers);
    if (limits === undefined) return;
    const inForce = this.buckets.of(family);
    limits.forEach((limit, i) => {
      if (limit === undefined) return;
      const was = inForce[i]?.max;
      if (!this.buckets.learn(family, i, limit)) return;
      const configured = this.buckets.configuredMax(family, i) ?? limit;
      this.config.logger.warn(
        {
          model: this.provider.safeModelId(model),
          family: storeKey(family),
          limit: ['rpm', 'itpm', 'otpm'][i],
          was,
          now: Math.min(limit, configured),
        },
        limit < configured
          ? `${this.provider.label} reports a lower limit than configured: using it`
          : `${this.provider.label} reports the configured limit again: using it`,
      );
    });
  }

  /** Gives back or charges the difference, then lowers to the server's figures. Never throws. */
  private async settleBuckets(
    model: string,
    into: Store,
    key: string,
    policies: readonly Policy[],
    deltas: readonly number[],
    ceilings: readonly number[] | undefined,
  ): Promise<void> {
    const store = into as Store & Required<Pick<Store, 'adjust' | 'lower'>>;
    try {
      await this.guard.call('rate limit store', () => store.adjust(key, policies, deltas));
      if (ceilings !== undefined) {
        await this.guard.call('rate limit store', () => store.lower(key, policies, ceilings));
      }
    } catch (error) {
      // The buckets keep the estimate instead of the real usage, and refill within a minute.
      this.writeFailed('buckets', model, error, { deltas });
    }
  }

  /** Replaces the budget hold with the real cost. Never throws. */
  private async settleBudget(model: string, budget: BudgetHold, micros: number): Promise<void> {
    try {
      await this.sharing.budgets.settle(budget.periods, budget.id, micros);
    } catch (error) {
      // The hold expires by itself; the spend is missing from the budget.
      this.writeFailed('budget', model, error, { spentMicros: micros, periods: budget.periods.map((p) => p.key) });
    }
  }

  private writeFailed(write: 'ledger' | 'budget' | 'buckets', model: string, error: unknown, lost: object): void {
    const context = { logger: this.config.logger, metrics: this.provider.metrics, label: this.provider.label };
    reportWriteFailure(context, write, this.provider.safeModelId(model), error, lost);
  }
}
