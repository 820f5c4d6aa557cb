import { ErrorCodes, type Logger, TollgateError } from '@tollgate/core';
import {
  CircuitBreaker,
  type CircuitConfig,
  initCircuitMetrics,
  NO_CALL,
  recordCircuitTransition,
} from '@tollgate/core/adapter';
import type { BudgetStore } from './budget.js';
import type { UsageLedger } from './ledger.js';
import { storeCall } from './store-call.js';
import type { Sharing } from './store-sharing.js';

/** What answers admission while the store is down: as `RateLimiter`'s `failMode`. */
export type FailMode = 'local' | 'open' | 'closed';
export const FAIL_MODES: readonly FailMode[] = ['local', 'open', 'closed'];

/** How often, at most, a continuing outage is logged again. */
const REPEAT_LOG_MS = 30_000;

/**
 * Every call a limiter makes to its store (buckets, budgets, ledger) goes through here: bounded
 * by `timeoutMs`, and through core's circuit breaker, so that once the store has failed
 * `circuit.failures` times in a row, calls fail at once (`TOLLGATE_STORE_UNAVAILABLE`) instead
 * of each waiting `timeoutMs`, until a probe finds it back. Outages are logged without flooding:
 * the first failure, then at most every 30 s, and the recovery. The breaker's state is in core's
 * `tollgate_ratelimit_circuit_state` and `tollgate_ratelimit_circuit_transitions_total`, under
 * the limiter label `metricLabel`.
 */
export class StoreGuard {
  private readonly breaker: CircuitBreaker | undefined;
  private failingSince: number | undefined;
  private lastLog = 0;
  private suppressed = 0;

  constructor(
    private readonly timeoutMs: number,
    circuit: CircuitConfig | undefined,
    private readonly logger: Logger,
    private readonly label: string,
    private readonly failMode: FailMode,
    metricLabel = label,
  ) {
    this.breaker =
      circuit === undefined
        ? undefined
        : new CircuitBreaker(circuit, {
            onTransition: (t) => {
              recordCircuitTransition(metricLabel, t.to);
              const fields = { limiter: label, failMode, from: t.from, to: t.to, openMs: t.openMs };
              if (t.to === 'open') this.logger.warn(fields, `${label} store circuit opened`);
              else if (t.to === 'closed') this.logger.warn(fields, `${label} store circuit closed`);
            },
          });
    if (this.breaker !== undefined) initCircuitMetrics(metricLabel);
  }

  /** The breaker's state, for tests and status. */
  get circuit(): string {
    return this.breaker?.state ?? 'off';
  }

  async call<T>(what: string, work: () => T | Promise<T>): Promise<T> {
    const permit = this.breaker === undefined ? 0 : this.breaker.admit();
    if (permit === NO_CALL) {
      throw new TollgateError(ErrorCodes.STORE_UNAVAILABLE, `${what} not called: its circuit breaker is open`);
    }
    let result: T;
    try {
      result = await storeCall(what, this.timeoutMs, work);
    } catch (error) {
      if (isStoreFailure(error)) {
        this.breaker?.failure(permit);
        this.failed(error);
      }
      throw error;
    }
    this.breaker?.success(permit);
    this.recovered();
    return result;
  }

  /** The ledger and budgets of `sharing`, each call through this guard. */
  share(sharing: Sharing): Sharing {
    const { ledger, budgets } = sharing;
    const guardedLedger: UsageLedger = {
      record: (entry) => this.call('usage ledger write', () => ledger.record(entry)),
      read: (days) => this.call('usage ledger read', () => ledger.read(days)),
    };
    const guardedBudgets: BudgetStore = {
      reserve: (periods, micros, expiresAt) =>
        this.call('budget store', () => budgets.reserve(periods, micros, expiresAt)),
      settle: (periods, id, micros) => this.call('budget store', () => budgets.settle(periods, id, micros)),
    };
    return { ledger: guardedLedger, budgets: guardedBudgets };
  }

  private failed(error: unknown): void {
    const now = Date.now();
    const first = this.failingSince === undefined;
    if (!first && now - this.lastLog < REPEAT_LOG_MS) {
      this.suppressed += 1;
      return;
    }
    this.failingSince ??= now;
    const fields = {
      limiter: this.label,
      failMode: this.failMode,
      error: error instanceof Error ? error.message : String(error),
      ...(this.suppressed > 0 ? { suppressed: this.suppressed } : {}),
    };
    this.logger.error(fields, first ? `${this.label} store failed` : `${this.label} store still failing`);
    this.lastLog = now;
    this.suppressed = 0;
  }

  private recovered(): void {
    if (this.failingSince === undefined) return;
    const fields = { limiter: this.label, outageMs: Date.now() - this.failingSince, suppressed: this.suppressed };
    this.failingSince = undefined;
    this.suppressed = 0;
    this.logger.warn(fields, `${this.label} store recovered`);
  }
}

/** A store that failed or timed out (not a coded refusal, nor a usage error). */
export function isStoreFailure(error: unknown): boolean {
  return (
    error instanceof TollgateError &&
    (error.code === ErrorCodes.STORE_TIMEOUT || error.code === ErrorCodes.STORE_UNAVAILABLE)
  );
}
