import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../errors.js';
import { assertOptionsObject, MAX_TIMER_MS, ownOptions, timerMs } from './validate.js';

describe('assertOptionsObject', () => {
  it.each([
    ['undefined', undefined],
    ['an empty object', {}],
  ])('reads nothing through a polluted Object.prototype from %s', (_label, options) => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.skip = () => true;
    try {
      const opts = assertOptionsObject(options, 'test');
      expect(opts.skip).toBeUndefined();
      expect('skip' in opts).toBe(false);
    } finally {
      delete proto.skip;
    }
  });

  it('copies own enumerable properties, not inherited ones', () => {
    const options = Object.create({ cost: 0 }) as Record<string, unknown>;
    options.max = 2;
    expect({ ...ownOptions(options) }).toEqual({ max: 2 });
    expect(assertOptionsObject(options, 'test').cost).toBeUndefined();
  });
});

describe('timerMs', () => {
  it('accepts 1 to 2^31-1', () => {
    expect(timerMs(1, 'x')).toBe(1);
    expect(timerMs(MAX_TIMER_MS, 'x')).toBe(2 ** 31 - 1);
  });

  it.each([0, -1, 1.5, 2 ** 31, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY, Number.NaN, '10'])(
    'refuses %j, naming the option and the accepted range',
    (value) => {
      expect(() => timerMs(value, 'sweepIntervalMs')).toThrow(InvalidOptionError);
      expect(() => timerMs(value, 'sweepIntervalMs')).toThrow(
        /`sweepIntervalMs`.*accepted: a whole number of milliseconds from 1 to 2147483647/,
      );
    },
  );
});
