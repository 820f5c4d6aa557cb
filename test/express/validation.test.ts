import { ErrorCodes, type RateLimitOptions, rateLimit, TollgateError } from '@tollgate/express';
import { describe, expect, it } from 'vitest';

/** Builds the middleware from options the types would reject, as JavaScript callers can. */
function build(options: Record<string, unknown>) {
  return rateLimit(options as unknown as RateLimitOptions);
}

function thrownBy(fn: () => unknown): TollgateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TollgateError);
    return error as TollgateError;
  }
  throw new Error('expected the call to throw');
}

describe('rateLimit() validates its options at construction', () => {
  const cases: Array<[string, Record<string, unknown>, string, string, string]> = [
    // label, options, code, option named, value echoed
    ['max 0', { max: 0, window: '1m' }, ErrorCodes.INVALID_OPTION, 'max', '0'],
    ["window '1 minute'", { max: 10, window: '1 minute' }, ErrorCodes.INVALID_OPTION, 'window', '"1 minute"'],
    ["window '-5s'", { max: 10, window: '-5s' }, ErrorCodes.INVALID_OPTION, 'window', '"-5s"'],
    ['max NaN', { max: Number.NaN, window: '1m' }, ErrorCodes.INVALID_OPTION, 'max', 'NaN'],
    ['max 1.5', { max: 1.5, window: '1m' }, ErrorCodes.INVALID_OPTION, 'max', '1.5'],
    ['unknown option maxx', { max: 10, window: '1m', maxx: 5 }, ErrorCodes.UNKNOWN_OPTION, 'maxx', '5'],
    [
      "headers 'draft-9'",
      { max: 10, window: '1m', headers: 'draft-9' },
      ErrorCodes.INVALID_OPTION,
      'headers',
      '"draft-9"',
    ],
    ["key 'cookie'", { max: 10, window: '1m', key: 'cookie' }, ErrorCodes.INVALID_OPTION, 'key', '"cookie"'],
    ['window 0', { max: 10, window: 0 }, ErrorCodes.INVALID_OPTION, 'window', '0'],
    ['max as a string', { max: '10', window: '1m' }, ErrorCodes.INVALID_OPTION, 'max', '"10"'],
    ['missing max', { window: '1m' }, ErrorCodes.INVALID_OPTION, 'max', 'undefined'],
    ['burst 0', { max: 10, window: '1m', burst: 0 }, ErrorCodes.INVALID_OPTION, 'burst', '0'],
    ['cost above capacity', { max: 3, window: '1m', cost: 4 }, ErrorCodes.INVALID_OPTION, 'cost', '4'],
    ['negative cost', { max: 3, window: '1m', cost: -1 }, ErrorCodes.INVALID_OPTION, 'cost', '-1'],
    [
      "failMode 'sideways'",
      { max: 3, window: '1m', failMode: 'sideways' },
      ErrorCodes.INVALID_OPTION,
      'failMode',
      '"sideways"',
    ],
    ['skip not a function', { max: 3, window: '1m', skip: true }, ErrorCodes.INVALID_OPTION, 'skip', 'true'],
    ['handler not a function', { max: 3, window: '1m', handler: 'x' }, ErrorCodes.INVALID_OPTION, 'handler', '"x"'],
    [
      'name with a space',
      { max: 3, window: '1m', name: 'my limiter' },
      ErrorCodes.INVALID_OPTION,
      'name',
      '"my limiter"',
    ],
    ['timeoutMs 0', { max: 3, window: '1m', timeoutMs: 0 }, ErrorCodes.INVALID_OPTION, 'timeoutMs', '0'],
  ];

  it.each(cases)('%s', (_label, options, code, option, echoed) => {
    const error = thrownBy(() => build(options));
    expect(error.code).toBe(code);
    expect(error.message).toContain(`\`${option}\``);
    expect(error.message).toContain(echoed);
    expect((error as TollgateError & { option?: string }).option).toBe(option);
  });

  it('an unknown option names the accepted ones', () => {
    const error = thrownBy(() => build({ max: 10, window: '1m', maxx: 5 }));
    expect(error.message).toContain('max');
    expect(error.message).toContain('window');
  });

  it('a policy inside `policies` is named by its index', () => {
    const error = thrownBy(() =>
      build({
        policies: [
          { max: 1, window: '1s' },
          { max: 0, window: '1h' },
        ],
      }),
    );
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.message).toContain('`policies[1].max`');
  });

  it('`policies` together with `max` is refused', () => {
    const error = thrownBy(() => build({ max: 1, window: '1s', policies: [{ max: 1, window: '1s' }] }));
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.message).toContain('`policies`');
  });

  it('valid options build a middleware with its limiter', () => {
    const mw = rateLimit({ max: 10, window: '1.5s', burst: 20, headers: 'draft-11', ipv6Subnet: 56 });
    expect(typeof mw).toBe('function');
    expect(mw.length).toBe(3);
    expect(mw.limiter.policies.map((p) => [p.max, p.windowMs, p.capacity])).toEqual([[10, 1500, 20]]);
  });
});
