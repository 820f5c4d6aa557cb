import { backoffMs } from './backoff.js';
import type { LlmLimiter } from './llm-limiter.js';
import type { StreamEnd } from './provider.js';
import { NO_TOKENS } from './tokens.js';
import type { CallEstimate, Reservation } from './types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Settlements of streams handed out by `run` and not yet over, per engine. */
const pendingStreams = new WeakMap<LlmLimiter, Set<Promise<void>>>();

/** Resolves once every stream `run` has handed out so far is over and settled. */
export async function streamsSettled(engine: LlmLimiter): Promise<void> {
  const pending = pendingStreams.get(engine);
  while (pending !== undefined && pending.size > 0) await Promise.all([...pending]);
}

/**
 * Checks the limits, makes the call, settles the reservation and records the usage, retrying
 * what the provider says may be retried with exponential backoff, or after the server's own
 * wait. The one retry owner: the API client's own retries should be off.
 *
 * A call is recorded once, however many attempts it took (the ledger counts the attempts
 * apart). A streamed result is returned once its first event arrived (an error before that is
 * retried like any other) and settled from its own usage events when it is over; an error after
 * the first event is the caller's, not retried.
 */
export async function runWithRetries<R>(
  engine: LlmLimiter,
  model: string,
  request: { max_tokens?: number },
  call: (request: never) => R | PromiseLike<R>,
  estimate: Omit<CallEstimate, 'request' | 'maxTokens'> = {},
): Promise<R> {
  const { provider, config } = engine;
  const { metrics } = provider;
  for (let attempt = 0; ; attempt++) {
    const attempts = attempt + 1;
    const reservation = await engine.checkLimit(model, {
      ...estimate,
      request,
      ...(request.max_tokens === undefined ? {} : { maxTokens: request.max_tokens }),
    });
    let result: R;
    let streamed = false;
    try {
      result = await call(request as never);
      const started = provider.watchStream?.(result, (end) =>
        track(engine, settleStream(engine, model, reservation, attempts, end)),
      );
      if (started !== undefined) {
        streamed = true;
        await started;
      }
    } catch (error) {
      const failure = provider.classify(error, Date.now());
      const headers = (error as { headers?: unknown })?.headers;
      const give = reservation.settle(undefined, headers);
      if (failure.spendCap !== undefined) {
        // Together, so a store that went away during the call costs one timeoutMs, not two.
        await Promise.all([give, engine.recordTokens(model, NO_TOKENS, { success: false, attempts }, 'spend_cap')]);
        const { errorCode, until } = failure.spendCap;
        config.logger.error(
          { model, errorCode, until: new Date(until).toISOString() },
          `${provider.label} spend cap reached: refusing calls until it resets`,
        );
        throw engine.spendCap.close(errorCode, until, error);
      }
      if (failure.ramp === true) engine.halveRate();
      // A quota 429 holds every call of the family, in every process, as long as it asked.
      if (failure.pauseMs !== undefined) await engine.pause(model, failure.pauseMs);
      const wait =
        failure.retry && attempt < config.retry.maxRetries
          ? (failure.retryAfterMs ?? backoffMs(attempt, config.retry.baseMs, config.retry.capMs))
          : undefined;
      // A server that asks for a longer wait than the caller allows gets its error back now.
      if (wait === undefined || wait > (estimate.waitMs ?? config.maxWaitMs)) {
        await Promise.all([give, engine.recordTokens(model, NO_TOKENS, { success: false, attempts })]);
        throw error;
      }
      await give;
      metrics.retry(model, failure.kind);
      await sleep(wait);
      continue;
    }
    if (streamed) return result;
    const { usage, headers, requestId } = provider.unpack(result);
    if (usage === undefined) {
      await Promise.all([
        reservation.settle(undefined, headers),
        engine.recordTokens(model, NO_TOKENS, { success: true, attempts }),
      ]);
      return result;
    }
    await Promise.all([
      reservation.settle(usage, headers),
      engine.recordUsage(model, usage, { success: true, attempts, ...(requestId === undefined ? {} : { requestId }) }),
    ]);
    return result;
  }
}

function track(engine: LlmLimiter, settling: Promise<void>): Promise<void> {
  let pending = pendingStreams.get(engine);
  if (pending === undefined) {
    pending = new Set();
    pendingStreams.set(engine, pending);
  }
  const set = pending;
  set.add(settling);
  return settling.finally(() => set.delete(settling));
}

/**
 * A stream is over: charge what its events reported (a stream cut off part-way included), give
 * back the rest, and record it as one call, failed when it ended in an error. Never throws: the
 * caller's stream must end with its own outcome, not with a ledger's.
 */
async function settleStream(
  engine: LlmLimiter,
  model: string,
  reservation: Reservation,
  attempts: number,
  end: StreamEnd,
): Promise<void> {
  const success = end.error === undefined;
  const { requestId } = end;
  try {
    await Promise.all([
      reservation.settle(end.usage as never, end.headers),
      end.usage === undefined
        ? engine.recordTokens(model, NO_TOKENS, { success, attempts })
        : engine.recordUsage(model, end.usage, {
            success,
            attempts,
            ...(requestId === undefined ? {} : { requestId }),
          }),
    ]);
  } catch (error) {
    engine.config.logger.error(
      { model, error: error instanceof Error ? error.message : String(error) },
      `${engine.provider.label} stream could not be settled`,
    );
  }
}
