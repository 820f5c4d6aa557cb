import { InvalidOptionError, type Logger, RateLimiter, type Store } from '@tollgate/core';
import { assertKnownOptions, assertOptionsObject, positiveInteger } from '@tollgate/core/adapter';

/** `countTokens`: ask the API's free token-counting endpoint for a call's exact input. */
export interface CountTokensOptions {
  /** Counts a request's input: `(params) => anthropic.messages.countTokens(params)`. */
  count: (params: never) => Promise<{ input_tokens: number }>;
  /**
   * The endpoint's own requests per minute (default 100, the lowest usage tier's), taken from a
   * bucket shared like the others (in Redis across instances), a second's worth at a time.
   */
  rpm?: number;
}

/** The fields of a Messages request that the counting endpoint takes. */
const COUNTED = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers'] as const;

/**
 * Input counts from the token-counting endpoint, within its own RPM. Counting is an
 * optimisation: when its bucket is empty, or it fails, the call goes on with the estimate.
 */
export class InputCounter {
  private readonly limiter: RateLimiter;
  private readonly count: CountTokensOptions['count'];
  private readonly logger: Logger;
  private warned = false;

  constructor(options: unknown, store: Store, config: { prefix: string; timeoutMs: number; logger: Logger }) {
    const opts = assertOptionsObject(options, 'countTokens');
    assertKnownOptions(opts, new Set(['count', 'rpm']), 'countTokens');
    if (typeof opts.count !== 'function') {
      throw new InvalidOptionError(
        'countTokens.count',
        opts.count,
        'accepted: a function such as (params) => anthropic.messages.countTokens(params)',
      );
    }
    this.count = opts.count as CountTokensOptions['count'];
    const rpm = opts.rpm === undefined ? 100 : positiveInteger(opts.rpm, 'countTokens.rpm');
    this.logger = config.logger;
    this.limiter = new RateLimiter({
      max: rpm,
      window: '1m',
      // The API may enforce a per-minute limit per second: never more than a second's worth at once.
      burst: Math.max(1, Math.ceil(rpm / 60)),
      name: 'llm-count-tokens',
      prefix: config.prefix,
      store,
      timeoutMs: config.timeoutMs,
      // A store that is away: no counting, the estimate serves.
      failMode: 'closed',
      logger: config.logger,
    });
  }

  /** The request's exact input tokens, or undefined to go on with the estimate. */
  async inputTokens(request: unknown): Promise<number | undefined> {
    if (
      typeof request !== 'object' ||
      request === null ||
      !Array.isArray((request as { messages?: unknown }).messages)
    ) {
      return undefined;
    }
    try {
      const decision = await this.limiter.consume('all');
      if (!decision.allowed) return undefined;
      const r = request as Record<string, unknown>;
      const params = Object.fromEntries(COUNTED.filter((k) => r[k] !== undefined).map((k) => [k, r[k]]));
      const counted = (await this.count(params as never))?.input_tokens;
      if (typeof counted === 'number' && Number.isSafeInteger(counted) && counted >= 0) return counted;
      throw new Error(`countTokens returned ${JSON.stringify(counted)}, not a token count`);
    } catch (error) {
      if (!this.warned) {
        this.warned = true;
        const reason = error instanceof Error ? error.message : String(error);
        this.logger.warn({ error: reason }, 'Claude token counting failed: estimating input instead (logged once)');
      }
      return undefined;
    }
  }
}
