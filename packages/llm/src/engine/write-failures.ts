import { type Logger, TollgateError } from '@tollgate/core';
import type { LlmMetrics, StoreWrite } from './provider.js';

const WHAT: Record<StoreWrite, string> = {
  ledger: 'usage not recorded in the ledger',
  budget: 'spend not settled in the budget',
  buckets: 'reservation not settled in the rate limit store',
};

/**
 * A write after a call that the store did not confirm: logged with what was lost, and counted.
 * Never thrown: the call was made and paid for.
 */
export function reportWriteFailure(
  context: { logger: Logger; metrics: LlmMetrics; label: string },
  write: StoreWrite,
  model: string,
  error: unknown,
  lost: object,
): void {
  context.metrics.storeWriteFailed(model, write);
  const code = error instanceof TollgateError ? error.code : undefined;
  const reason = error instanceof Error ? error.message : String(error);
  const fields = { model, write, code, error: reason, ...lost };
  const message = `${context.label.replace(/ API$/, '')} ${WHAT[write]}: the store failed or timed out`;
  // Buckets refill within a minute: a warning. Usage or spend missing for good: an error.
  if (write === 'buckets') context.logger.warn(fields, message);
  else context.logger.error(fields, message);
}
