import type { RateLimiterOptions } from '@tollgate/core';

/** One call through a `RateLimiter`, `advance` milliseconds after the previous one. */
export type Step =
  | { advance: number; op: 'consume'; key: string; cost?: number }
  | { advance: number; op: 'peek'; key: string }
  | { advance: number; op: 'reset'; key: string };

export interface Scenario {
  name: string;
  limiter: RateLimiterOptions;
  steps: Step[];
}

const c = (advance: number, key = 'a', cost?: number): Step =>
  cost === undefined ? { advance, op: 'consume', key } : { advance, op: 'consume', key, cost };

/** Call sequences through a limiter, each with refusals in it (a table without them proves little). */
export const scenarios: Scenario[] = [
  {
    name: 'a burst then refill, 5 per second',
    limiter: { max: 5, window: '1s' },
    steps: [
      c(0),
      c(0),
      c(0),
      c(0),
      c(0),
      c(0),
      c(199),
      c(1),
      c(0),
      c(400),
      c(0),
      c(0),
      { advance: 0, op: 'peek', key: 'a' },
    ],
  },
  {
    name: 'rate that does not divide the window, 7 per minute',
    limiter: { max: 7, window: '1m' },
    steps: [...Array.from({ length: 8 }, () => c(0)), c(8571), c(1), c(8571), c(8572), c(60_000), c(0, 'b')],
  },
  {
    name: 'burst above the rate',
    limiter: { max: 2, window: '1s', burst: 6 },
    steps: [...Array.from({ length: 7 }, () => c(0)), c(499), c(1), c(3000), c(0, 'a', 6), c(0)],
  },
  {
    name: 'costs greater than one, refused without being charged',
    limiter: { max: 10, window: '10s' },
    steps: [
      c(0, 'a', 4),
      c(0, 'a', 4),
      c(0, 'a', 4),
      c(0, 'a', 2),
      c(0, 'a', 1),
      c(999, 'a', 1),
      c(1, 'a', 1),
      c(0, 'a', 0),
    ],
  },
  {
    name: 'two policies all-or-nothing',
    limiter: {
      policies: [
        { max: 2, window: '1s' },
        { max: 5, window: '1h' },
      ],
    },
    steps: [c(0), c(0), c(0), c(1000), c(0), c(0), c(1000), c(0), c(0), { advance: 0, op: 'peek', key: 'a' }],
  },
  {
    name: 'reset refills, keys are separate',
    limiter: { max: 2, window: '1d' },
    steps: [c(0), c(0), c(0), c(0, 'b'), { advance: 0, op: 'reset', key: 'a' }, c(0), c(0), c(0), c(0, 'b')],
  },
];
