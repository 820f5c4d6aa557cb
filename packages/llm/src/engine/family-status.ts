import type { Policy } from '@tollgate/core';
import { LIMIT_KINDS } from './family-buckets.js';

/** One of a family's buckets as it stands: its limit, its size and what is left of it. */
export interface BucketStatus {
  /** Per minute. */
  readonly limit: number;
  /** The bucket's size (its burst). */
  readonly capacity: number;
  /** Whole tokens (requests) left now; negative after a call charged more than its estimate. */
  readonly remaining: number;
  /** Ms until the bucket is full again. */
  readonly resetMs: number;
}

/** A family's three buckets, as `status(model)` reports them. */
export interface FamilyStatus {
  readonly model: string;
  readonly family: string;
  readonly rpm: BucketStatus;
  readonly itpm: BucketStatus;
  readonly otpm: BucketStatus;
}

/** The store's tokens of a family's [rpm, itpm, otpm] buckets, as a status report. */
export function familyStatus(
  model: string,
  family: string,
  policies: readonly Policy[],
  tokens: readonly number[],
): FamilyStatus {
  const [rpm, itpm, otpm] = LIMIT_KINDS.map((_, i) => {
    const policy = policies[i] as Policy;
    const left = tokens[i] ?? policy.capacity;
    return {
      limit: policy.max,
      capacity: policy.capacity,
      remaining: Math.floor(left),
      resetMs: Math.max(0, Math.ceil((policy.capacity - left) / policy.ratePerMs)),
    };
  }) as [BucketStatus, BucketStatus, BucketStatus];
  return { model, family, rpm, itpm, otpm };
}
