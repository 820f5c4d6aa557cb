import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServerClock, SYNC_INTERVAL_MS } from './server-clock.js';

describe('ServerClock', () => {
  it('asks for TIME first, then once per interval', () => {
    const clock = new ServerClock();
    expect(clock.known).toBe(false);
    expect(clock.takeSync(0)).toBe(true);
    // Not known yet: every call asks until a sample arrives.
    expect(clock.takeSync(10)).toBe(true);
    clock.sample(10, 12, 5_000);
    expect(clock.known).toBe(true);
    expect(clock.takeSync(20)).toBe(false);
    expect(clock.takeSync(10 + SYNC_INTERVAL_MS)).toBe(true);
    expect(clock.takeSync(20 + SYNC_INTERVAL_MS)).toBe(false);
  });

  it('before any sample: no lower bound, an unbounded upper one', () => {
    const clock = new ServerClock();
    expect(clock.lowerBound(100)).toBeNaN();
    expect(clock.upperBound(100)).toBe(Number.POSITIVE_INFINITY);
  });

  it("brackets the server's true time: the lower bound never ahead of it, the upper never behind", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e12, max: 1e12, noNaN: true }),
        fc.array(
          fc.record({
            sentAt: fc.double({ min: 0, max: 60_000, noNaN: true }),
            outbound: fc.double({ min: 0, max: 500, noNaN: true }),
            inbound: fc.double({ min: 0, max: 500, noNaN: true }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        fc.double({ min: 0, max: 1_000, noNaN: true }),
        (offset, calls, later) => {
          const clock = new ServerClock();
          const sorted = [...calls].sort((a, b) => a.sentAt - b.sentAt);
          let last = 0;
          for (const { sentAt, outbound, inbound } of sorted) {
            // The script runs `outbound` ms after the call leaves and reads TIME in whole ms.
            const ranAt = sentAt + outbound;
            const serverMs = Math.floor(ranAt + offset);
            const receivedAt = ranAt + inbound;
            clock.sample(sentAt, receivedAt, serverMs);
            last = Math.max(last, receivedAt);
          }
          const local = last + later;
          const truth = local + offset;
          expect(clock.lowerBound(local)).toBeLessThanOrEqual(truth);
          expect(clock.upperBound(local)).toBeGreaterThanOrEqual(truth);
        },
      ),
    );
  });

  it('a round trip of a few ms gives bounds a few ms apart', () => {
    const clock = new ServerClock();
    clock.sample(1_000, 1_004, 1_700_000_000_002);
    const local = 1_500;
    expect(clock.upperBound(local) - clock.lowerBound(local)).toBeLessThanOrEqual(6);
  });

  it('follows a server clock that was stepped back at its next sample, not one or two epochs later', () => {
    const clock = new ServerClock();
    const offset = 1_700_000_000_000;
    for (let t = 0; t < 5_000; t += SYNC_INTERVAL_MS) clock.sample(t, t + 1, t + offset);
    // The server's clock steps back an hour.
    const stepped = offset - 3_600_000;
    clock.sample(5_000, 5_001, 5_000 + stepped);
    expect(clock.lowerBound(5_002)).toBeLessThanOrEqual(5_002 + stepped);
    expect(clock.lowerBound(5_002)).toBeGreaterThanOrEqual(5_002 + stepped - 2);
    expect(clock.upperBound(5_002)).toBeLessThanOrEqual(5_002 + stepped + 2);
  });

  it('follows a server clock that was stepped forward at its next sample', () => {
    const clock = new ServerClock();
    const offset = 1_700_000_000_000;
    for (let t = 0; t < 5_000; t += SYNC_INTERVAL_MS) clock.sample(t, t + 1, t + offset);
    const stepped = offset + 3_600_000;
    clock.sample(5_000, 5_001, 5_000 + stepped);
    expect(clock.upperBound(5_002)).toBeGreaterThanOrEqual(5_002 + stepped);
    expect(clock.lowerBound(5_002)).toBeGreaterThanOrEqual(5_002 + stepped - 2);
  });
});
