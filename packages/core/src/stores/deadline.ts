import { ErrorCodes, TollgateError } from '../errors.js';
import { withTimeout } from '../with-timeout.js';

/**
 * Settles with `work`, or rejects with a STORE_TIMEOUT error after `ms`, whichever comes first;
 * any other failure becomes a STORE_UNAVAILABLE error (the client's own error is its `cause`),
 * so every RedisStore method ends in bounded time with a coded error whatever the Redis does:
 * killed, paused, unreachable.
 *
 * A command sent to a hung Redis cannot be taken back: `work` keeps running after the timeout,
 * and its late settlement is observed here and dropped, never an unhandled rejection.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, operation: string): Promise<T> {
  return withTimeout(work, ms, `Redis did not answer ${operation} within ${ms} ms`, (error) =>
    storeError(error, operation),
  );
}

/**
 * A coded error for a failed store call; tollgate's own errors (a protocol error, a bad option)
 * pass as they are. A client that gave up waiting on its own (GLIDE's request timeout, 250 ms by
 * default, or a node-redis or ioredis command timeout) is a timeout too, not a failure.
 */
export function storeError(error: unknown, operation: string): TollgateError {
  if (error instanceof TollgateError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isClientTimeout(error)) {
    return new TollgateError(ErrorCodes.STORE_TIMEOUT, `Redis did not answer ${operation} in time: ${message}`, {
      cause: error,
    });
  }
  return new TollgateError(ErrorCodes.STORE_UNAVAILABLE, `Redis failed ${operation}: ${message}`, { cause: error });
}

/** A Redis client's own timeout: GLIDE's and node-redis's `TimeoutError`, ioredis's "Command timed out". */
export function isClientTimeout(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'TimeoutError' || error.constructor.name === 'TimeoutError' || error.message === 'Command timed out'
  );
}
