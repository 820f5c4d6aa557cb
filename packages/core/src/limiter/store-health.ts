import type { Logger } from '../log.js';

/** How often, at most, a continuing store outage is logged again. */
const REPEAT_LOG_MS = 30_000;

/**
 * Counts store failures and logs them without flooding: the first failure of an outage is
 * logged at once, later ones as a count every 30 s, and the recovery once.
 */
export class StoreHealth {
  /** Store calls that failed or timed out since the limiter was built. */
  failures = 0;
  /** Decisions answered by the fallback instead of the store. */
  fallbacks = 0;
  private failing = false;
  private suppressed = 0;
  private lastLog = 0;

  constructor(
    private readonly logger: Logger,
    private readonly limiter: string,
  ) {}

  failed(error: unknown, failMode: string): void {
    this.failures += 1;
    this.fallbacks += 1;
    const now = Date.now();
    if (this.failing && now - this.lastLog < REPEAT_LOG_MS) {
      this.suppressed += 1;
      return;
    }
    const fields = {
      limiter: this.limiter,
      failMode,
      error: error instanceof Error ? error.message : String(error),
      ...(this.suppressed > 0 ? { suppressed: this.suppressed } : {}),
    };
    this.logger.error(fields, this.failing ? 'rate limit store still failing' : 'rate limit store failed');
    this.failing = true;
    this.suppressed = 0;
    this.lastLog = now;
  }

  /** Marks a decision answered by the fallback without trying the store (known down). */
  skipped(failMode: string): void {
    this.failed(new Error('store not connected'), failMode);
  }

  succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.warn({ limiter: this.limiter, suppressed: this.suppressed }, 'rate limit store recovered');
    this.suppressed = 0;
  }
}
