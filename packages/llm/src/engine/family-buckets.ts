import type { Policy } from '@tollgate/core';
import { storeKey } from '@tollgate/core/adapter';
import { policyId } from '@tollgate/core/stored-format';
import type { FamilyLimits } from './types.js';

const DEFAULT_LIMITS: FamilyLimits = { rpm: 50, itpm: 30_000, otpm: 8_000 };
export const LIMIT_KINDS = ['rpm', 'itpm', 'otpm'] as const;
export type LimitKind = (typeof LIMIT_KINDS)[number];
const WINDOW_MS = 60_000;

/** A limit's bucket size when neither the caller nor the provider says: the whole minute. */
export const WHOLE_MINUTE = (_kind: LimitKind, limit: number): number => limit;

/**
 * Each family's three buckets (requests, input tokens, output tokens per minute) and their key.
 * A limit the server reports below the configured one (`learn`) replaces it in this process until
 * the server reports the configured one again; the bucket keeps its stored field, so its tokens
 * carry over.
 */
export class FamilyBuckets {
  private readonly policies = new Map<string, readonly Policy[]>();
  private readonly initial = new Map<string, readonly Policy[]>();

  constructor(
    private readonly limits: Readonly<Record<string, FamilyLimits>>,
    private readonly prefix: string,
    private readonly defaultBurst: (kind: LimitKind, limit: number) => number = WHOLE_MINUTE,
  ) {}

  /** [rpm, itpm, otpm] of `family` in force: the configured ones, or lower ones learned since. */
  of(family: string): readonly Policy[] {
    let policies = this.policies.get(family);
    if (policies === undefined) {
      policies = this.configured(family);
      this.policies.set(family, policies);
    }
    return policies;
  }

  /** [rpm, itpm, otpm] of `family` as configured: its limits, else `'*'`'s, else the defaults. */
  private configured(family: string): readonly Policy[] {
    let policies = this.initial.get(family);
    if (policies === undefined) {
      const limits = this.limits[family] ?? this.limits['*'] ?? DEFAULT_LIMITS;
      // Each bucket gets its own field even when two limits are equal.
      policies = LIMIT_KINDS.map((kind) => {
        const max = limits[kind];
        const capacity = limits.burst?.[kind] ?? this.defaultBurst(kind, max);
        const id = `${kind}:${policyId({ max, windowMs: WINDOW_MS, capacity })}`;
        return bucket(max, capacity, id);
      });
      this.initial.set(family, policies);
    }
    return policies;
  }

  /**
   * Uses `limit` per minute for `family`'s limit `index` (0 rpm, 1 itpm, 2 otpm) when the server
   * reports it below the configured one, and the configured one again once the server reports
   * that much or more: the rate follows, the burst never exceeds it. True when it changed.
   */
  learn(family: string, index: number, limit: number): boolean {
    const policies = [...this.of(family)];
    const current = policies[index];
    const configured = this.configured(family)[index];
    if (current === undefined || configured === undefined || !Number.isSafeInteger(limit) || limit < 1) return false;
    const max = Math.min(limit, configured.max);
    if (max === current.max) return false;
    policies[index] =
      max === configured.max ? configured : bucket(max, Math.min(configured.capacity, max), configured.id);
    this.policies.set(family, Object.freeze(policies));
    return true;
  }

  /** The configured limit `index` of `family` (what `learn` never goes above), per minute. */
  configuredMax(family: string, index: number): number | undefined {
    return this.configured(family)[index]?.max;
  }

  key(family: string): string {
    return `${this.prefix}:llm:${storeKey(family)}`;
  }
}

function bucket(max: number, capacity: number, id: string): Policy {
  const label = capacity === max ? `${max}-per-1m` : `${max}-per-1m-burst-${capacity}`;
  return Object.freeze({ max, windowMs: WINDOW_MS, capacity, ratePerMs: max / WINDOW_MS, id, label });
}
