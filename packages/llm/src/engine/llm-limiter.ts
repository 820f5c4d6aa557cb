import { InvalidOptionError, type Logger, RateLimitExceededError, type Store } from '@tollgate/core';
import { storeKey } from '@tollgate/core/adapter';
import { type BudgetPeriod, budgetPeriods } from './budget.js';
import { BudgetExceededError } from './budget-exceeded-error.js';
import { FamilyBuckets } from './family-buckets.js';
import { LEDGER_DAYS, utcDay } from './ledger.js';
import { optionalCount, waitLimit } from './options.js';
import { OutputEstimator } from './output-estimator.js';
import type { LlmProvider } from './provider.js';
import { Ramp } from './ramp.js';
import { refusal } from './refusal.js';
import { SpendCapGate } from './spend-cap.js';
import { storeCall } from './store-call.js';
import type { Sharing } from './store-sharing.js';
import { NO_TOKENS, type TokenCounts } from './tokens.js';
import type { CallEstimate, FamilyLimits, RecordOptions, Reservation, UsageStats } from './types.js';
import { usageStats } from './usage-stats.js';
import { reportWriteFailure } from './write-failures.js';

/** A budget hold left by a process that died stops counting after this long. */
const BUDGET_HOLD_MS = 10 * 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
  readonly ramp: Ramp;
  readonly spendCap = new SpendCapGate();
  private readonly buckets: FamilyBuckets;

  constructor(
    readonly provider: LlmProvider,
    readonly config: EngineConfig,
  ) {
    this.ramp = new Ramp(config.rampRecoveryMs);
    this.buckets = new FamilyBuckets(config.limits, config.prefix);
    provider.metrics.init();
  }

  async checkLimit(model: string, estimate: CallEstimate): Promise<Reservation> {
    const waitMs = estimate.waitMs === undefined ? this.config.maxWaitMs : waitLimit(estimate.waitMs, 'waitMs');
    this.spendCap.assertOpen();
    const family = this.provider.family(model);
    const policies = this.buckets.of(family);
    const [rpm, itpm, otpm] = policies as [(typeof policies)[0], (typeof policies)[0], (typeof policies)[0]];
    const given = optionalCount(estimate.inputTokens, 'inputTokens');
    const input = Math.min(itpm.capacity, given ?? this.provider.estimateInput(estimate.request));
    const output = Math.min(otpm.capacity, this.outputs.reserve(model, optionalCount(estimate.maxTokens, 'maxTokens')));
    const requests = Math.min(rpm.capacity, 1 / this.ramp.factor());
    const costs = [requests, input, output];
    const key = this.buckets.key(family);
    const budget = await this.holdBudget(model, estimate.tenant, input, estimate.maxTokens ?? otpm.capacity);
    const deadline = Date.now() + waitMs;
    try {
      for (;;) {
        const result = await storeCall('rate limit store', this.config.timeoutMs, () =>
          this.config.store.consume(key, policies, costs),
        );
        if (result.allowed) return this.reservation(model, family, key, input, output, budget);
        const decision = refusal(policies, result.tokens, costs);
        const wait = decision.retryAfterMs + Math.floor(Math.random() * 25);
        if (Date.now() + wait > deadline) throw new RateLimitExceededError(decision);
        this.provider.metrics.wait(model);
        await sleep(wait);
      }
    } catch (error) {
      // Not awaited: a store that just failed would make the caller wait again for its error. On
      // one connection the release still goes before any later reservation; if it is lost, the
      // hold expires by itself.
      if (budget !== undefined) {
        this.config.sharing.budgets
          .settle(budget.periods, budget.id, 0)
          .catch((lost: unknown) => this.writeFailed('budget', model, lost, { released: budget.id }));
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
  ): Promise<BudgetHold | undefined> {
    if (this.config.budgets === undefined) return undefined;
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) {
      throw new InvalidOptionError('tenant', tenant, 'accepted: a non-empty string');
    }
    const scope = tenant === undefined ? 'app' : `t-${storeKey(tenant)}`;
    const periods = budgetPeriods(scope, this.config.budgets, Date.now());
    const safe = this.provider.safeModelId(model);
    const worst = this.provider.price(safe, { ...NO_TOKENS, input, output: maxOutput }, false).micros;
    const held = await this.config.sharing.budgets.reserve(periods, worst, Date.now() + BUDGET_HOLD_MS);
    if ('refused' in held) throw new BudgetExceededError(held.refused.period, new Date(held.refused.endsAt));
    return { periods, id: held.id };
  }

  async recordUsage(model: string, usage: unknown, options: RecordOptions): Promise<number> {
    return this.recordTokens(model, this.provider.tokenCounts(usage), options);
  }

  /** Prices the tokens and adds them to the ledger (a failed call: no tokens); returns the cost in USD. */
  async recordTokens(model: string, tokens: TokenCounts, options: RecordOptions): Promise<number> {
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
      requestId: options.requestId,
    };
    let recorded: boolean;
    try {
      recorded = await this.config.sharing.ledger.record(entry);
    } catch (error) {
      // The entry in the log line is enough to add it by hand; the process's metrics still count it.
      this.writeFailed('ledger', safe, error, { entry });
      recorded = true;
    }
    // A request id seen before was counted then: neither the ledger nor the metrics count it again.
    if (recorded) this.provider.metrics.usage(safe, tokens, micros, priced);
    return micros / 1_000_000;
  }

  async getUsageStats(days: number): Promise<UsageStats> {
    if (!Number.isSafeInteger(days) || days < 1 || days > LEDGER_DAYS) {
      throw new InvalidOptionError('days', days, `accepted: a whole number from 1 to ${LEDGER_DAYS}`);
    }
    const today = Date.now();
    const dates = Array.from({ length: days }, (_, i) => utcDay(today - i * 86_400_000));
    return usageStats(dates, await this.config.sharing.ledger.read(dates), this.config.pricesAsOf);
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
    input: number,
    output: number,
    budget: BudgetHold | undefined,
  ): Reservation {
    let settled = false;
    const policies = this.buckets.of(family);
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
        let deltas = [0, -input, -output];
        if (tokens !== undefined) {
          deltas = [0, this.provider.rateLimitedInput(tokens) - input, tokens.output - output];
          this.outputs.observe(model, tokens.output);
        }
        const said = headers === undefined || headers === null ? undefined : this.provider.remaining(headers);
        const ceilings = said?.map((n, i) => n ?? (policies[i] as { capacity: number }).capacity);
        const safe = this.provider.safeModelId(model);
        const spent = tokens === undefined ? 0 : this.provider.price(safe, tokens, false).micros;
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
    policies: ReturnType<FamilyBuckets['of']>,
    deltas: readonly number[],
    ceilings: readonly number[] | undefined,
  ): Promise<void> {
    const store = this.config.store as Required<Pick<Store, 'adjust' | 'lower'>>;
    const { timeoutMs } = this.config;
    try {
      await storeCall('rate limit store', timeoutMs, () => store.adjust(key, policies, deltas));
      if (ceilings !== undefined) {
        await storeCall('rate limit store', timeoutMs, () => store.lower(key, policies, ceilings));
      }
    } catch (error) {
      // The buckets keep the estimate instead of the real usage, and refill within a minute.
      this.writeFailed('buckets', model, error, { deltas });
    }
  }

  /** Replaces the budget hold with the real cost. Never throws. */
  private async settleBudget(model: string, budget: BudgetHold, micros: number): Promise<void> {
    try {
      await this.config.sharing.budgets.settle(budget.periods, budget.id, micros);
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
