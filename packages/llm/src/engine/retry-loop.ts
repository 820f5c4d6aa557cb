import { backoffMs } from './backoff.js';
import type { LlmLimiter } from './llm-limiter.js';
import { NO_TOKENS } from './tokens.js';
import type { CallEstimate } from './types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Checks the limits, makes the call, settles the reservation and records the usage, retrying
 * what the provider says may be retried with exponential backoff and full jitter, or after the
 * server's own wait. The one retry owner: the API client's own retries should be off.
 */
export async function runWithRetries<R>(
  engine: LlmLimiter,
  model: string,
  request: { max_tokens?: number },
  call: (request: never) => Promise<R>,
  estimate: Omit<CallEstimate, 'request' | 'maxTokens'> = {},
): Promise<R> {
  const { provider, config } = engine;
  const { metrics } = provider;
  for (let attempt = 0; ; attempt++) {
    const reservation = await engine.checkLimit(model, {
      ...estimate,
      request,
      ...(request.max_tokens === undefined ? {} : { maxTokens: request.max_tokens }),
    });
    let result: R;
    try {
      result = await call(request as never);
    } catch (error) {
      const failure = provider.classify(error, Date.now());
      // Together, so a store that went away during the call costs one timeoutMs, not two.
      await Promise.all([
        reservation.settle(undefined, (error as { headers?: unknown })?.headers),
        engine.recordTokens(model, NO_TOKENS, { success: false }),
      ]);
      if (failure.spendCap !== undefined) {
        metrics.call(model, 'spend_cap');
        const { errorCode, until } = failure.spendCap;
        config.logger.error(
          { model, errorCode, until: new Date(until).toISOString() },
          `${provider.label} spend cap reached: refusing calls until it resets`,
        );
        throw engine.spendCap.close(errorCode, until, error);
      }
      if (failure.ramp === true) engine.halveRate();
      if (!failure.retry || attempt >= config.retry.maxRetries) {
        metrics.call(model, 'error');
        throw error;
      }
      const wait = failure.retryAfterMs ?? backoffMs(attempt, config.retry.baseMs, config.retry.capMs);
      // A server that asks for a longer wait than the caller allows gets its error back now.
      if (wait > (estimate.waitMs ?? config.maxWaitMs)) {
        metrics.call(model, 'error');
        throw error;
      }
      metrics.retry(model, failure.kind);
      await sleep(wait);
      continue;
    }
    metrics.call(model, 'success');
    const { usage, headers, requestId } = provider.unpack(result);
    if (usage === undefined) {
      await reservation.settle(undefined, headers);
      return result;
    }
    await Promise.all([
      reservation.settle(usage, headers),
      engine.recordUsage(model, usage, { success: true, ...(requestId === undefined ? {} : { requestId }) }),
    ]);
    return result;
  }
}
