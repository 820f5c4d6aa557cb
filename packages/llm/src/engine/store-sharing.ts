import { InvalidOptionError, type Logger, MemoryStore, type RedisConnection, type Store } from '@tollgate/core';
import { type BudgetStore, MemoryBudgetStore, RedisBudgetStore } from './budget.js';
import { MemoryLedger, RedisLedger, type UsageLedger } from './ledger.js';

/** Where a limiter keeps usage and budgets, chosen by what its bucket store can do. */
export interface Sharing {
  readonly ledger: UsageLedger;
  readonly budgets: BudgetStore;
}

/**
 * A store that can share its Redis connection (`connection()`, as `RedisStore` has) gets the
 * ledger and budgets beside its buckets, in the same Redis. An in-process `MemoryStore` keeps
 * them in the process too. Any other store is shared by a fleet, perhaps, but cannot share
 * usage: per-process budgets would let every process spend the whole cap, so budgets are refused
 * with it, and a per-process ledger is said aloud once.
 */
export function chooseSharing(
  store: Store,
  given: unknown,
  options: { prefix: string; timeoutMs: number; budgets: boolean; logger: Logger },
): Sharing {
  const connection = sharedConnection(store);
  const bound = { timeoutMs: options.timeoutMs };
  if (connection !== undefined) {
    return {
      ledger: new RedisLedger(connection, options.prefix, bound),
      budgets: new RedisBudgetStore(connection, options.prefix, bound),
    };
  }
  // The one store known to live in this process: per-process usage is all it can mean.
  if (!(store instanceof MemoryStore)) {
    if (options.budgets) {
      throw new InvalidOptionError(
        'store',
        given,
        'budgets need a store that can share them: one with connection() (RedisStore), or a MemoryStore for one process',
      );
    }
    options.logger.warn(
      { store: store.constructor?.name },
      'LLM limiter: this store cannot share a usage ledger (it has no connection()): usage is counted per process',
    );
  }
  return { ledger: new MemoryLedger(), budgets: new MemoryBudgetStore() };
}

/** The Redis connection of a store that can share one, else undefined. */
function sharedConnection(store: Store): (() => Promise<RedisConnection>) | undefined {
  const capable = store as Store & { connection?: unknown };
  if (typeof capable.connection !== 'function') return undefined;
  return () => (capable.connection as () => Promise<RedisConnection>).call(store);
}
