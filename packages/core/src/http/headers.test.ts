import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRateLimitFields } from '../../../../test/helpers/structured-fields.js';
import { buildDecision, type Decision } from '../limiter/decision.js';
import { createPolicy, MAX_TOKENS } from '../limiter/policy.js';
import {
  type Contribution,
  HEADER_MODES,
  type HeaderList,
  type HeaderMode,
  MAX_HEADER_INTEGER,
  rateLimitHeaders,
  retryAfterSeconds,
  SoloHeaders,
  wholeSecondQuota,
} from './headers.js';

const NOW = 1_700_000_000_000;
const perSecond = createPolicy({ max: 10, window: '1s' });
const perHour = createPolicy({ max: 1000, window: '1h' });

/** 4 of 10 per second left: reset in 600 ms. */
const single: Decision = buildDecision([perSecond], [4], [1], true, 'store');
/** 4 of 10 per second (600 ms to full) and 990 of 1000 per hour (36 s to full). */
const both: Decision = buildDecision([perSecond, perHour], [4, 990], [1, 1], true, 'store');
/** The hourly bucket is empty: refused, a token in 3.6 s, full in 1 h. */
const refused: Decision = buildDecision([perSecond, perHour], [9, 0], [1, 1], false, 'store');

function contribution(decision: Decision, names: string[], mode: HeaderMode = 'draft-11'): Contribution {
  return { decision, names, mode };
}

function asObject(mode: HeaderMode, contributions: Contribution[]): Record<string, string> {
  return Object.fromEntries(rateLimitHeaders(mode, contributions, NOW));
}

describe('fixtures', () => {
  it('are the decisions the tests assume', () => {
    expect(single).toMatchObject({ limit: 10, remaining: 4, resetMs: 600, retryAfterMs: 0 });
    expect(both).toMatchObject({ limit: 10, remaining: 4, resetMs: 600 });
    expect(both.policies[1]).toMatchObject({ remaining: 990, resetMs: 36_000 });
    expect(refused).toMatchObject({
      allowed: false,
      limit: 1000,
      remaining: 0,
      resetMs: 3_600_000,
      retryAfterMs: 3600,
    });
  });
});

describe('rateLimitHeaders: draft-11', () => {
  it('one policy', () => {
    expect(rateLimitHeaders('draft-11', [contribution(single, ['10-per-1s'])], NOW)).toEqual([
      ['RateLimit-Policy', '"10-per-1s";q=10;w=1'],
      ['RateLimit', '"10-per-1s";r=4;t=1'],
    ]);
  });

  it('one item per policy', () => {
    expect(rateLimitHeaders('draft-11', [contribution(both, ['10-per-1s', '1000-per-1h'])], NOW)).toEqual([
      ['RateLimit-Policy', '"10-per-1s";q=10;w=1, "1000-per-1h";q=1000;w=3600'],
      ['RateLimit', '"10-per-1s";r=4;t=1, "1000-per-1h";r=990;t=36'],
    ]);
  });

  it('a refused decision', () => {
    expect(asObject('draft-11', [contribution(refused, ['api.10-per-1s', 'api.1000-per-1h'])])).toEqual({
      'RateLimit-Policy': '"api.10-per-1s";q=10;w=1, "api.1000-per-1h";q=1000;w=3600',
      RateLimit: '"api.10-per-1s";r=9;t=1, "api.1000-per-1h";r=0;t=3600',
    });
  });

  it('a full bucket resets in 0 seconds', () => {
    const full = buildDecision([perSecond], [10], [1], true, 'store');
    expect(asObject('draft-11', [contribution(full, ['burst'])]).RateLimit).toBe('"burst";r=10;t=0');
  });

  it('stacked contributions append their items in order', () => {
    const other = buildDecision([createPolicy({ max: 5, window: '1m' })], [2], [1], true, 'store');
    expect(
      rateLimitHeaders('draft-11', [contribution(single, ['global']), contribution(other, ['login'])], NOW),
    ).toEqual([
      ['RateLimit-Policy', '"global";q=10;w=1, "login";q=5;w=60'],
      ['RateLimit', '"global";r=4;t=1, "login";r=2;t=36'],
    ]);
  });
});

describe('rateLimitHeaders: draft-7', () => {
  it('one policy', () => {
    expect(rateLimitHeaders('draft-7', [contribution(single, ['x'], 'draft-7')], NOW)).toEqual([
      ['RateLimit-Policy', '10;w=1'],
      ['RateLimit', 'limit=10, remaining=4, reset=1'],
    ]);
  });

  it('lists every policy and reports the binding one', () => {
    expect(asObject('draft-7', [contribution(both, ['a', 'b'], 'draft-7')])).toEqual({
      'RateLimit-Policy': '10;w=1, 1000;w=3600',
      RateLimit: 'limit=10, remaining=4, reset=1',
    });
    expect(asObject('draft-7', [contribution(refused, ['a', 'b'], 'draft-7')])).toEqual({
      'RateLimit-Policy': '10;w=1, 1000;w=3600',
      RateLimit: 'limit=1000, remaining=0, reset=3600',
    });
  });

  it('stacked: appends policies and reports the most binding decision', () => {
    expect(
      asObject('draft-7', [contribution(refused, ['a', 'b'], 'draft-7'), contribution(single, ['c'], 'draft-7')]),
    ).toEqual({
      'RateLimit-Policy': '10;w=1, 1000;w=3600, 10;w=1',
      RateLimit: 'limit=1000, remaining=0, reset=3600',
    });
    const fewer = buildDecision([createPolicy({ max: 3, window: '1m' })], [1], [1], true, 'store');
    expect(
      asObject('draft-7', [contribution(single, ['a'], 'draft-7'), contribution(fewer, ['b'], 'draft-7')]),
    ).toEqual({
      'RateLimit-Policy': '10;w=1, 3;w=60',
      RateLimit: 'limit=3, remaining=1, reset=40',
    });
  });
});

describe('rateLimitHeaders: draft-6', () => {
  it('one policy', () => {
    expect(rateLimitHeaders('draft-6', [contribution(single, ['x'], 'draft-6')], NOW)).toEqual([
      ['RateLimit-Policy', '10;w=1'],
      ['RateLimit-Limit', '10'],
      ['RateLimit-Remaining', '4'],
      ['RateLimit-Reset', '1'],
    ]);
  });

  it('several policies, refused', () => {
    expect(asObject('draft-6', [contribution(refused, ['a', 'b'], 'draft-6')])).toEqual({
      'RateLimit-Policy': '10;w=1, 1000;w=3600',
      'RateLimit-Limit': '1000',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '3600',
    });
  });

  it('stacked contributions append policies', () => {
    expect(
      asObject('draft-6', [contribution(single, ['a'], 'draft-6'), contribution(both, ['b', 'c'], 'draft-6')]),
    ).toEqual({
      'RateLimit-Policy': '10;w=1, 10;w=1, 1000;w=3600',
      'RateLimit-Limit': '10',
      'RateLimit-Remaining': '4',
      'RateLimit-Reset': '1',
    });
  });
});

describe('rateLimitHeaders: legacy', () => {
  it('X-RateLimit-* with the reset as a Unix time in seconds', () => {
    expect(rateLimitHeaders('legacy', [contribution(single, ['x'], 'legacy')], NOW)).toEqual([
      ['X-RateLimit-Limit', '10'],
      ['X-RateLimit-Remaining', '4'],
      ['X-RateLimit-Reset', '1700000001'],
    ]);
  });

  it('reports the most binding of stacked decisions', () => {
    expect(
      asObject('legacy', [contribution(single, ['a'], 'legacy'), contribution(refused, ['b', 'c'], 'legacy')]),
    ).toEqual({
      'X-RateLimit-Limit': '1000',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': '1700003600',
    });
  });

  it('rounds the reset time up', () => {
    expect(asObject('legacy', [contribution(single, ['x'], 'legacy')])['X-RateLimit-Reset']).toBe(
      String(Math.ceil((NOW + 600) / 1000)),
    );
    expect(rateLimitHeaders('legacy', [contribution(single, ['x'], 'legacy')], NOW + 500)[2]).toEqual([
      'X-RateLimit-Reset',
      '1700000002',
    ]);
  });
});

describe('retryAfterSeconds', () => {
  it.each([
    [0, 1],
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [3600, 4],
    [60_000, 60],
  ])('%i ms -> %i s', (ms, s) => {
    expect(retryAfterSeconds(ms)).toBe(s);
  });
});

describe('SoloHeaders', () => {
  const cases: Array<[string, Decision, string[]]> = [
    ['one policy', single, ['10-per-1s']],
    ['two policies', both, ['api.10-per-1s', 'api.1000-per-1h']],
    ['refused', refused, ['10-per-1s', '1000-per-1h']],
  ];
  for (const mode of HEADER_MODES) {
    for (const [what, decision, names] of cases) {
      it(`${mode}, ${what}: the fields rateLimitHeaders gives for a single contribution`, () => {
        const solo = new SoloHeaders(
          mode,
          names,
          decision.policies.map((s) => s.policy),
        );
        expect(solo.for(decision, NOW)).toEqual(rateLimitHeaders(mode, [contribution(decision, names, mode)], NOW));
      });
    }
  }
});

describe('header values are Structured Field integers (issue 13, item 7)', () => {
  // A bucket deep in debt (`adjust`, as the LLM limiter settles) or with a NaN balance waits
  // longer than any header can say: before, `t=1e+300`, `t=Infinity`, `Retry-After: Infinity`.
  const inDebt = buildDecision([perSecond, perHour], [-1e300, 5], [1, 1], false, 'store');
  const broken = buildDecision([perSecond], [Number.NaN], [1], false, 'store');
  // A policy made outside createPolicy (its bounds would refuse it): the probe's `q=9007199254740991`.
  const huge = Object.freeze({ ...perSecond, max: 2 ** 53 - 1, capacity: 2 ** 53 - 1 });
  const unbounded = buildDecision([huge], [2 ** 53 - 2], [1], true, 'store');
  const cases: Array<[string, Decision, string[]]> = [
    ['a bucket in debt', inDebt, ['a', 'b']],
    ['a NaN balance', broken, ['a']],
    ['a policy beyond the bounds', unbounded, ['a']],
  ];
  for (const mode of HEADER_MODES) {
    for (const [what, decision, names] of cases) {
      it(`${mode}, ${what}: every field parses, every number a whole number of at most 15 digits`, () => {
        const fields = rateLimitHeaders(mode, [contribution(decision, names, mode)], NOW);
        expect(() => parseRateLimitFields(fields)).not.toThrow();
        const solo = new SoloHeaders(
          mode,
          names,
          decision.policies.map((s) => s.policy),
        ).for(decision, NOW);
        expect(() => parseRateLimitFields(solo)).not.toThrow();
        const retryAfter: HeaderList = [['Retry-After', String(retryAfterSeconds(decision.retryAfterMs))]];
        expect(() => parseRateLimitFields(retryAfter)).not.toThrow();
      });
    }
  }

  it('a wait past the largest Structured Field integer is sent as that integer', () => {
    expect(MAX_HEADER_INTEGER).toBe(999_999_999_999_999);
    expect(retryAfterSeconds(1e300)).toBe(MAX_HEADER_INTEGER);
    expect(retryAfterSeconds(Number.POSITIVE_INFINITY)).toBe(MAX_HEADER_INTEGER);
    expect(retryAfterSeconds(Number.NaN)).toBe(MAX_HEADER_INTEGER);
    expect(asObject('draft-11', [contribution(inDebt, ['a', 'b'])]).RateLimit).toBe(
      `"a";r=0;t=${MAX_HEADER_INTEGER}, "b";r=5;t=3582`,
    );
    expect(asObject('legacy', [contribution(broken, ['a'], 'legacy')])['X-RateLimit-Reset']).toBe(
      String(MAX_HEADER_INTEGER),
    );
  });
});

describe('a window that is not a whole number of seconds (issue 13, item 9)', () => {
  it('is sent stretched to the shortest whole number of seconds, with q scaled: the real rate', () => {
    const halfSecond = createPolicy({ max: 10, window: '500ms' });
    const decision = buildDecision([halfSecond], [10], [1], true, 'store');
    // Before: q=10;w=1, half the real rate.
    expect(asObject('draft-11', [contribution(decision, ['fast'])])['RateLimit-Policy']).toBe('"fast";q=20;w=1');
    expect(new SoloHeaders('draft-11', ['fast'], [halfSecond]).for(decision, NOW)[0]).toEqual([
      'RateLimit-Policy',
      '"fast";q=20;w=1',
    ]);
    expect(asObject('draft-7', [contribution(decision, ['fast'], 'draft-7')])['RateLimit-Policy']).toBe('20;w=1');
    expect(asObject('draft-6', [contribution(decision, ['fast'], 'draft-6')])['RateLimit-Policy']).toBe('20;w=1');
  });

  it.each([
    [10, '500ms', 20, 1],
    [10, '1500ms', 20, 3],
    [3, '250ms', 12, 1],
    [1, 1, 1000, 1],
    [3, 7, 3000, 7],
    [5, 1001, 5000, 1001],
    [100, '1m', 100, 60],
    [10, '1s', 10, 1],
  ] as const)('%i per %s is sent as q=%i;w=%i', (max, window, q, w) => {
    expect(wholeSecondQuota(createPolicy({ max, window }))).toEqual({ q, w });
  });

  it('q per w seconds is exactly max per window, w the fewest windows that make whole seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_TOKENS }), fc.integer({ min: 1, max: 2 ** 40 }), (max, windowMs) => {
        const { q, w } = wholeSecondQuota({ max, windowMs });
        expect(Number.isSafeInteger(q) && Number.isSafeInteger(w)).toBe(true);
        expect(BigInt(q) * BigInt(windowMs)).toBe(BigInt(max) * BigInt(w) * 1000n);
        if (windowMs % 1000 === 0) expect({ q, w }).toEqual({ q: max, w: windowMs / 1000 });
        // w seconds is the window times the fewest windows that make whole seconds.
        const windows = (w * 1000) / windowMs;
        expect(Number.isInteger(windows) && windows <= 1000).toBe(true);
        for (let fewer = 1; fewer < windows; fewer++) expect((windowMs * fewer) % 1000).not.toBe(0);
      }),
    );
  });
});
