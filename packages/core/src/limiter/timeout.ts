import { ErrorCodes, TollgateError } from '../errors.js';

/**
 * Settles with `work`, or rejects with a STORE_TIMEOUT error after `ms`, whichever comes first.
 *
 * `work` keeps running after a timeout (a command sent to a hung Redis cannot be taken back),
 * so its late settlement is observed here and dropped: a store call that fails after the
 * caller gave up on it can never become an unhandled rejection.
 */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new TollgateError(ErrorCodes.STORE_TIMEOUT, `rate limit store did not answer within ${ms} ms`)),
      ms,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
