import { describe, expect, it } from 'vitest';
import { Throttle } from './throttle.js';

describe('Throttle', () => {
  it('lets one line of a kind through per interval and counts the ones held back', () => {
    let now = 0;
    const throttle = new Throttle(30_000, () => now);
    expect(throttle.take('connection')).toBe(0);
    for (let i = 0; i < 9; i++) {
      now += 1000;
      expect(throttle.take('connection')).toBeUndefined();
    }
    now = 30_000;
    expect(throttle.take('connection')).toBe(9);
    now += 1;
    expect(throttle.take('connection')).toBeUndefined();
  });

  it('never holds back one kind because of another', () => {
    const throttle = new Throttle(30_000, () => 0);
    expect(throttle.take('connection')).toBe(0);
    expect(throttle.take('acl')).toBe(0);
    expect(throttle.take('connection')).toBeUndefined();
  });
});
