import { ErrorCodes, TollgateError } from '../errors.js';

/** Settles with `work`, or rejects with a STORE_TIMEOUT error after `ms`, whichever comes first. */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TollgateError(ErrorCodes.STORE_TIMEOUT, `rate limit store did not answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
