import { ErrorCodes, TollgateError } from '@tollgate/core';
import { isClientTimeout, timerMs, withTimeout } from '@tollgate/core/adapter';

/** The longest a Claude limiter, its ledger or its budgets wait for a store call, as `RateLimiter` does. */
export const DEFAULT_STORE_TIMEOUT_MS = 500;

/** A `timeoutMs` option: the default when unset, else whole milliseconds from 1 to 2^31-1. */
export function storeTimeoutMs(value: unknown, option = 'timeoutMs'): number {
  return value === undefined ? DEFAULT_STORE_TIMEOUT_MS : timerMs(value, option);
}

/**
 * Runs one store operation, connection included, bounded by `timeoutMs`. It ends with the
 * answer, `TOLLGATE_STORE_TIMEOUT` when none came in time, or `TOLLGATE_STORE_UNAVAILABLE` (the
 * client's error as `cause`) when it failed; tollgate's own coded errors pass unchanged. Without
 * the bound, ioredis queues a command for a dead Redis for over a minute, and for a hung one
 * forever. A store that answers synchronously (in memory) is not timed.
 */
export async function storeCall<T>(what: string, timeoutMs: number, work: () => T | Promise<T>): Promise<T> {
  try {
    const pending = work();
    return isPromiseLike(pending)
      ? await withTimeout(Promise.resolve(pending), timeoutMs, `${what} did not answer within ${timeoutMs} ms`)
      : pending;
  } catch (error) {
    if (error instanceof TollgateError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    // A client that gave up waiting on its own (GLIDE's 250 ms request timeout) timed out, too.
    const code = isClientTimeout(error) ? ErrorCodes.STORE_TIMEOUT : ErrorCodes.STORE_UNAVAILABLE;
    throw new TollgateError(code, `${what} failed: ${reason}`, { cause: error });
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
