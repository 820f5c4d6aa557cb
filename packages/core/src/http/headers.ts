import { type Decision, isMoreBinding } from '../limiter/decision.js';
import type { Policy } from '../limiter/policy.js';

/** Which rate-limit header fields to send. */
export type HeaderMode = 'draft-11' | 'draft-7' | 'draft-6' | 'legacy';

export const HEADER_MODES: readonly HeaderMode[] = ['draft-11', 'draft-7', 'draft-6', 'legacy'];

/** Response header fields as `[name, value]` pairs, in the order they are to be set. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** One limiter's decision on a request, as stacked limiters report them. */
export interface Contribution {
  readonly decision: Decision;
  /** The policy names this limiter shows, one per policy. */
  readonly names: readonly string[];
  /** The header mode the limiter sends; stacked limiters in other modes stay apart. */
  readonly mode: HeaderMode;
}

/**
 * The header fields for every decision made on one request so far. Stacked limiters each add
 * their policies; the single-valued fields of the older drafts show the most binding one.
 */
export function rateLimitHeaders(mode: HeaderMode, contributions: readonly Contribution[], nowMs: number): HeaderList {
  if (mode === 'draft-11') {
    const policy: string[] = [];
    const state: string[] = [];
    for (const { decision, names } of contributions) {
      decision.policies.forEach((s, i) => {
        const name = `"${names[i]}"`;
        policy.push(`${name};q=${s.policy.max};w=${seconds(s.policy.windowMs)}`);
        state.push(`${name};r=${s.remaining};t=${seconds(s.resetMs)}`);
      });
    }
    return [
      ['RateLimit-Policy', policy.join(', ')],
      ['RateLimit', state.join(', ')],
    ];
  }
  let top = (contributions[0] as Contribution).decision;
  const policies: string[] = [];
  for (const { decision } of contributions) {
    if (isMoreBinding(decision, top)) top = decision;
    for (const s of decision.policies) policies.push(policyItem(s.policy));
  }
  const reset = seconds(top.resetMs);
  switch (mode) {
    case 'draft-7':
      return [
        ['RateLimit-Policy', policies.join(', ')],
        ['RateLimit', `limit=${top.limit}, remaining=${top.remaining}, reset=${reset}`],
      ];
    case 'draft-6':
      return [
        ['RateLimit-Policy', policies.join(', ')],
        ['RateLimit-Limit', String(top.limit)],
        ['RateLimit-Remaining', String(top.remaining)],
        ['RateLimit-Reset', String(reset)],
      ];
    case 'legacy':
      return [
        ['X-RateLimit-Limit', String(top.limit)],
        ['X-RateLimit-Remaining', String(top.remaining)],
        ['X-RateLimit-Reset', String(Math.ceil((nowMs + top.resetMs) / 1000))],
      ];
  }
}

/**
 * The header fields of one limiter alone on a request (the common case), for `draft-11` with
 * what never changes built once: the `RateLimit-Policy` field whole, and each policy's
 * `"name";r=` prefix. The same fields as `rateLimitHeaders` for a single contribution.
 */
export class SoloHeaders {
  private readonly policyField: readonly [string, string] | undefined;
  private readonly statePrefixes: readonly string[];

  constructor(
    private readonly mode: HeaderMode,
    private readonly names: readonly string[],
    policies: readonly Policy[],
  ) {
    if (mode === 'draft-11') {
      const items = policies.map((p, i) => `"${names[i]}";q=${p.max};w=${seconds(p.windowMs)}`);
      this.policyField = Object.freeze(['RateLimit-Policy', items.join(', ')] as const);
    }
    this.statePrefixes = names.map((name) => `"${name}";r=`);
  }

  /** The fields for `decision`, made by this limiter alone. */
  for(decision: Decision, nowMs: number): HeaderList {
    const policyField = this.policyField;
    if (policyField === undefined) {
      return rateLimitHeaders(this.mode, [{ decision, names: this.names, mode: this.mode }], nowMs);
    }
    const statuses = decision.policies;
    let state = '';
    for (let i = 0; i < statuses.length; i++) {
      const s = statuses[i] as Decision['policies'][number];
      if (i > 0) state += ', ';
      state += `${this.statePrefixes[i]}${s.remaining};t=${seconds(s.resetMs)}`;
    }
    return [policyField, ['RateLimit', state]];
  }
}

/** `Retry-After` in whole seconds, never before the bucket can serve the request, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

function policyItem(policy: Policy): string {
  return `${policy.max};w=${seconds(policy.windowMs)}`;
}

function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}
