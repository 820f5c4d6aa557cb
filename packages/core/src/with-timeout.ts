import { ErrorCodes, TollgateError } from './errors.js';

/**
 * Settles with `work`, or rejects with a STORE_TIMEOUT error after `ms` (its message `message`),
 * whichever comes first; `work`'s own failure is passed through `failed`, if given, to code it.
 * Every bounded store call goes through here: the limiter's, the Redis store's own deadline, the
 * quota source's and the LLM limiter's.
 *
 * `work` keeps running after a timeout (a command sent to a hung Redis cannot be taken back),
 * so its late settlement is observed here and dropped: a store call that fails after the
 * caller gave up on it can never become an unhandled rejection.
 */
export function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  message = `rate limit store did not answer within ${ms} ms`,
  failed?: (error: unknown) => unknown,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TollgateError(ErrorCodes.STORE_TIMEOUT, message)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(failed === undefined ? error : failed(error));
      },
    );
  });
}
