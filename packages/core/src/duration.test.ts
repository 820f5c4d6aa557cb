import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';
import { ErrorCodes, InvalidOptionError } from './errors.js';

function rejection(value: unknown, option = 'window'): InvalidOptionError {
  try {
    parseDuration(value, option);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error(`parseDuration accepted ${String(value)}`);
}

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    [1, 1],
    [1500, 1500],
    [60_000, 60_000],
  ] as const)('parses %j as %i ms', (value, ms) => {
    expect(parseDuration(value, 'window')).toBe(ms);
  });

  it.each([
    ['1 minute', '"1 minute"'],
    ['-5s', '"-5s"'],
    [Number.NaN, 'NaN'],
    [0, '0'],
    [1.5, '1.5'],
    ['', '""'],
    [null, 'null'],
    [undefined, 'undefined'],
    [-1, '-1'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    ['0s', '"0s"'],
    ['1.5ms', '"1.5ms"'],
    ['10', '"10"'],
    [' 1m', '" 1m"'],
    ['1M', '"1M"'],
    ['1w', '"1w"'],
    [{}, 'an object'],
  ] as const)('rejects %j with a coded error naming the option and echoing the value', (value, shown) => {
    const error = rejection(value, 'window');
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.code).toBe('TOLLGATE_INVALID_OPTION');
    expect(error.option).toBe('window');
    expect(error.value).toBe(value);
    expect(error.message).toContain('`window`');
    expect(error.message).toContain(shown);
  });

  it('names whatever option it is told to', () => {
    const error = rejection('soon', 'policies[2].window');
    expect(error.option).toBe('policies[2].window');
    expect(error.message).toContain('`policies[2].window`');
    expect(error.message).toContain('"soon"');
  });

  it('rejects durations beyond the safe integer range', () => {
    expect(rejection(2 ** 60).code).toBe(ErrorCodes.INVALID_OPTION);
    expect(rejection('999999999999999999d').code).toBe(ErrorCodes.INVALID_OPTION);
  });
});

describe('formatDuration', () => {
  it.each([
    [60_000, '1m'],
    [1500, '1500ms'],
    [1000, '1s'],
    [86_400_000, '1d'],
    [7_200_000, '2h'],
    [90_000, '90s'],
  ])('formats %i as %s', (ms, label) => {
    expect(formatDuration(ms)).toBe(label);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1000, 61_000, 3_600_000, 172_800_000]) {
      expect(parseDuration(formatDuration(ms), 'window')).toBe(ms);
    }
  });
});
