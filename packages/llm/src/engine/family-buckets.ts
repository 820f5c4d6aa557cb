import type { Policy } from '@tollgate/core';
import { storeKey } from '@tollgate/core/adapter';
import { policyId } from '@tollgate/core/stored-format';
import type { FamilyLimits } from './types.js';

const DEFAULT_LIMITS: FamilyLimits = { rpm: 50, itpm: 30_000, otpm: 8_000 };

/** Each family's three buckets (requests, input tokens, output tokens per minute) and their key. */
export class FamilyBuckets {
  private readonly policies = new Map<string, readonly Policy[]>();

  constructor(
    private readonly limits: Readonly<Record<string, FamilyLimits>>,
    private readonly prefix: string,
  ) {}

  /** [rpm, itpm, otpm] of `family`: its limits, else `'*'`'s, else the defaults. */
  of(family: string): readonly Policy[] {
    let policies = this.policies.get(family);
    if (policies === undefined) {
      const limits = this.limits[family] ?? this.limits['*'] ?? DEFAULT_LIMITS;
      // Each bucket gets its own field even when two limits are equal.
      policies = (['rpm', 'itpm', 'otpm'] as const).map((kind) => {
        const max = limits[kind];
        const windowMs = 60_000;
        const id = `${kind}:${policyId({ max, windowMs, capacity: max })}`;
        return Object.freeze({ max, windowMs, capacity: max, ratePerMs: max / windowMs, id, label: `${max}-per-1m` });
      });
      this.policies.set(family, policies);
    }
    return policies;
  }

  key(family: string): string {
    return `${this.prefix}:llm:${storeKey(family)}`;
  }
}
