/** What a store needs to know about one bucket of a decision. */
export interface BucketSpec {
  /** Stable field name for this bucket within the key (the policy id). */
  readonly id: string;
  readonly capacity: number;
  readonly ratePerMs: number;
}

/** What a store answers: whether every bucket covered its cost, and each bucket's tokens. */
export interface StoreResult {
  readonly allowed: boolean;
  /** Tokens per bucket: after the debit when allowed, untouched when not. */
  readonly tokens: readonly number[];
}

/**
 * A place where buckets live. A decision touches one key holding one bucket per policy and is
 * atomic: every bucket is debited, or none is. Implementations may answer synchronously.
 */
export interface Store {
  /** Debits `costs[i]` from bucket `i` if every bucket covers its cost. A negative cost refunds. */
  consume(key: string, buckets: readonly BucketSpec[], costs: readonly number[]): StoreResult | Promise<StoreResult>;
  /**
   * Applies `deltas[i]` to bucket `i` unconditionally (positive takes, negative gives back),
   * so a bucket may go below zero: settling a reservation after the fact. Optional: the LLM
   * limiter needs it, HTTP limiting does not.
   */
  adjust?(key: string, buckets: readonly BucketSpec[], deltas: readonly number[]): StoreResult | Promise<StoreResult>;
  /** Caps bucket `i` at `ceilings[i]` tokens; a bucket never gains from it. Optional, as `adjust`. */
  lower?(key: string, buckets: readonly BucketSpec[], ceilings: readonly number[]): StoreResult | Promise<StoreResult>;
  /** Reads the buckets without changing them. */
  peek(key: string, buckets: readonly BucketSpec[]): StoreResult | Promise<StoreResult>;
  /** Forgets the key: every bucket is full again. */
  reset(key: string): void | Promise<void>;
  /**
   * False when the store knows it cannot answer now (a Redis client that is reconnecting),
   * so the limiter can fall back at once instead of waiting for a timeout.
   */
  isAvailable?(): boolean;
  /**
   * A view of this store whose keys are all under `prefix`, given without it. Optional: a
   * limiter uses it when present, so an in-process store need not hold the limiter's long
   * prefix once per client. `scope(prefix).consume(key, …)` must be `consume(prefix + key, …)`.
   */
  scope?(prefix: string): Store;
}
