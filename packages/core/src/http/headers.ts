import { type Decision, isMoreBinding } from '../limiter/decision.js';
import type { Policy } from '../limiter/policy.js';
import { count, MAX_HEADER_INTEGER, retryAfterSeconds, seconds } from './header-integer.js';

export { MAX_HEADER_INTEGER, retryAfterSeconds };

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
        policy.push(`${name};${quota(s.policy)}`);
        state.push(`${name};r=${count(s.remaining)};t=${seconds(s.resetMs)}`);
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
        ['RateLimit', `limit=${count(top.limit)}, remaining=${count(top.remaining)}, reset=${reset}`],
      ];
    case 'draft-6':
      return [
        ['RateLimit-Policy', policies.join(', ')],
        ['RateLimit-Limit', String(count(top.limit))],
        ['RateLimit-Remaining', String(count(top.remaining))],
        ['RateLimit-Reset', String(reset)],
      ];
    case 'legacy':
      return [
        ['X-RateLimit-Limit', String(count(top.limit))],
        ['X-RateLimit-Remaining', String(count(top.remaining))],
        ['X-RateLimit-Reset', String(seconds(nowMs + top.resetMs))],
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
      const items = policies.map((p, i) => `"${names[i]}";${quota(p)}`);
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
      state += `${this.statePrefixes[i]}${count(s.remaining)};t=${seconds(s.resetMs)}`;
    }
    return [policyField, ['RateLimit', state]];
  }
}

/** A draft-11 policy's parameters: `q=20;w=1` for 10 per 500 ms. */
function quota(policy: Policy): string {
  const { q, w } = wholeSecondQuota(policy);
  return `q=${q};w=${w}`;
}

/** A draft-7 or draft-6 policy item: `20;w=1` for 10 per 500 ms. */
function policyItem(policy: Policy): string {
  const { q, w } = wholeSecondQuota(policy);
  return `${q};w=${w}`;
}

/**
 * The policy's rate as `q` per `w` whole seconds, exactly: the headers count windows in seconds,
 * so a window that is not a whole number of them is stretched to the shortest one that is, and
 * `q` scaled with it (10 per 500 ms is sent as 20 per 1 s, 10 per 1500 ms as 20 per 3 s). Sending
 * `w` rounded up and `q` as it is (10 per 1 s for 10 per 500 ms) understated the rate.
 */
export function wholeSecondQuota(policy: Pick<Policy, 'max' | 'windowMs'>): { q: number; w: number } {
  const { max, windowMs } = policy;
  // Policies from createPolicy have a whole number of ms; anything else is only rounded up.
  const stretch = Number.isSafeInteger(windowMs) && windowMs > 0 ? 1000 / gcd(windowMs, 1000) : 1;
  return { q: count(max * stretch), w: seconds(windowMs * stretch) };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
