import type { Logger } from '../log.js';
import type { CircuitTransition } from './circuit-breaker.js';

/** How often, at most, a continuing store outage is logged again. */
const REPEAT_LOG_MS = 30_000;

/**
 * Counts store failures and logs them without flooding: the first failure of an outage is
 * logged at once, later ones as a count every 30 s, and the recovery once. It also logs the
 * circuit breaker's state changes, once each.
 */
export class StoreHealth {
  /** Store calls that failed or timed out, or were skipped because the store said it was down. */
  failures = 0;
  /** Decisions answered by the fallback instead of the store (for any reason, open circuit included). */
  fallbacks = 0;
  /** Decisions answered by the fallback without trying the store because the circuit was open. */
  shortCircuited = 0;
  private failing = false;
  private suppressed = 0;
  private lastLog = 0;

  constructor(
    private readonly logger: Logger,
    private readonly limiter: string,
  ) {}

  failed(error: unknown, failMode: string): void {
    this.fallbacks += 1;
    this.logFailure(error, { failMode });
  }

  /**
   * Marks a store call other than a decision (a reset) that failed: a failure like any other for
   * the logs and the counter, but no fallback answered it, the caller got an error.
   */
  operationFailed(error: unknown, operation: string): void {
    this.logFailure(error, { operation });
  }

  private logFailure(error: unknown, context: object): void {
    this.failures += 1;
    const now = Date.now();
    if (this.failing && now - this.lastLog < REPEAT_LOG_MS) {
      this.suppressed += 1;
      return;
    }
    const fields = {
      limiter: this.limiter,
      ...context,
      error: error instanceof Error ? error.message : String(error),
      ...(this.suppressed > 0 ? { suppressed: this.suppressed } : {}),
    };
    this.log('error', fields, this.failing ? 'rate limit store still failing' : 'rate limit store failed');
    this.failing = true;
    this.suppressed = 0;
    this.lastLog = now;
  }

  /** Marks a decision answered by the fallback without trying the store (known down). */
  skipped(failMode: string): void {
    this.failed(new Error('store not connected'), failMode);
  }

  /** Marks a decision answered by the fallback because the circuit was open: not a new failure. */
  shortCircuit(): void {
    this.fallbacks += 1;
    this.shortCircuited += 1;
  }

  succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log('warn', { limiter: this.limiter, suppressed: this.suppressed }, 'rate limit store recovered');
    this.suppressed = 0;
  }

  /**
   * Logs a circuit state change: `circuit opened` (warn, with the failure count and the next
   * probe time), `circuit closed` (warn, with how long the store was avoided), a failed probe
   * as `circuit reopened` (info), and the probe itself (debug).
   */
  circuitChanged(t: CircuitTransition, failMode: string): void {
    const nextProbeAt = () => new Date(Date.now() + t.openMs).toISOString();
    if (t.to === 'open' && t.from === 'closed') {
      this.log(
        'warn',
        { limiter: this.limiter, failMode, failures: t.failures, openMs: t.openMs, nextProbeAt: nextProbeAt() },
        'circuit opened',
      );
    } else if (t.to === 'open') {
      this.log(
        'info',
        { limiter: this.limiter, failMode, failedProbes: t.reopenings, openMs: t.openMs, nextProbeAt: nextProbeAt() },
        'circuit reopened',
      );
    } else if (t.to === 'closed') {
      this.log('warn', { limiter: this.limiter, openForMs: Math.round(t.outageMs) }, 'circuit closed');
    } else {
      this.log('debug', { limiter: this.limiter }, 'circuit half-open: probing the store');
    }
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', fields: object, message: string): void {
    try {
      if (level === 'debug') this.logger.debug?.(fields, message);
      else this.logger[level](fields, message);
    } catch {
      // A throwing logger must not turn a store failure into a request failure.
    }
  }
}
