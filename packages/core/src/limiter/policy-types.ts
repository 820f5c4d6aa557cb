/**
 * The shape of a validated policy, on its own: decisions (and through them errors.ts) need the
 * type but nothing of its validation, which itself throws the errors. Types only, no imports, so
 * no import cycle can pass through here. Built by `createPolicy` (policy.ts).
 */
export interface Policy {
  readonly max: number;
  readonly windowMs: number;
  /** Bucket capacity: `burst ?? max`. */
  readonly capacity: number;
  /** Tokens refilled per millisecond: `max / windowMs`. */
  readonly ratePerMs: number;
  /** Stable identity used in store keys and stored with the buckets (`policyId`), e.g. `100-60000-100`. */
  readonly id: string;
  /** Human label used in headers, e.g. `100-per-1m`. */
  readonly label: string;
}
