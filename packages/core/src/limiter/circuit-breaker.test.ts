import { afterEach, describe, expect, it, vi } from 'vitest';
import { injectedPromtool, runPromtool } from '../../../../test/helpers/promtool.js';
import { ErrorCodes, InvalidOptionError } from '../errors.js';
import type { Logger } from '../log.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { BucketSpec, Store, StoreResult } from '../stores/store.js';
import { CIRCUIT_STATE_VALUES } from '../telemetry/circuit-metrics.js';
import { register } from '../telemetry/registry.js';
import {
  CIRCUIT_DEFAULTS,
  CircuitBreaker,
  type CircuitBreakerDeps,
  type CircuitConfig,
  type CircuitTransition,
  NO_CALL,
  parseCircuitOptions,
} from './circuit-breaker.js';
import { type FailMode, RATE_LIMITER_OPTIONS, RateLimiter, type RateLimiterOptions } from './rate-limiter.js';

/** A breaker on a clock the test moves by hand, with its transitions collected. */
function breakerAt(config: Partial<CircuitConfig> = {}, deps: CircuitBreakerDeps = {}) {
  const clock = { now: 0 };
  const transitions: CircuitTransition[] = [];
  const breaker = new CircuitBreaker(
    { ...CIRCUIT_DEFAULTS, ...config },
    {
      now: () => clock.now,
      random: () => 0,
      onTransition: (t) => transitions.push(t),
      ...deps,
    },
  );
  return { clock, breaker, transitions };
}

/** Fails `n` calls in a row, each admitted and failed before the next. */
function failInRow(breaker: CircuitBreaker, n: number): void {
  for (let i = 0; i < n; i++) breaker.failure(breaker.admit());
}

describe('CircuitBreaker', () => {
  it('stays closed while failures are fewer than the threshold in a row', () => {
    const { breaker, transitions } = breakerAt({ failures: 3 });
    failInRow(breaker, 2);
    breaker.success(breaker.admit());
    failInRow(breaker, 2);
    expect(breaker.state).toBe('closed');
    expect(breaker.failures).toBe(2);
    expect(breaker.admit()).not.toBe(NO_CALL);
    expect(transitions).toEqual([]);
  });

  it('opens after `failures` consecutive failures and refuses calls until minOpenMs has passed', () => {
    const { clock, breaker, transitions } = breakerAt({ failures: 3, minOpenMs: 1000 });
    clock.now = 500;
    failInRow(breaker, 3);
    expect(breaker.state).toBe('open');
    expect(transitions).toEqual([
      { from: 'closed', to: 'open', failures: 3, openMs: 1000, reopenings: 0, outageMs: 0 },
    ]);
    expect(breaker.msUntilProbe).toBe(1000);
    clock.now = 1499;
    expect(breaker.admit()).toBe(NO_CALL);
    expect(breaker.msUntilProbe).toBe(1);
    expect(breaker.state).toBe('open');
  });

  it('lets exactly one probe through when half-open; its success closes the circuit', () => {
    const { clock, breaker, transitions } = breakerAt({ failures: 2, minOpenMs: 1000 });
    failInRow(breaker, 2);
    clock.now = 1000;
    const probe = breaker.admit();
    expect(probe).not.toBe(NO_CALL);
    expect(breaker.state).toBe('half_open');
    // Everyone else keeps using the fallback while the probe is out.
    for (let i = 0; i < 10; i++) expect(breaker.admit()).toBe(NO_CALL);
    clock.now = 1003;
    breaker.success(probe);
    expect(breaker.state).toBe('closed');
    expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual([
      'closed->open',
      'open->half_open',
      'half_open->closed',
    ]);
    expect(transitions[2]).toMatchObject({ outageMs: 1003 });
    expect(breaker.admit()).not.toBe(NO_CALL);
  });

  it('reopens after a failed probe for twice as long, up to maxOpenMs, then starts again at minOpenMs', () => {
    const { clock, breaker, transitions } = breakerAt({ failures: 1, minOpenMs: 1000, maxOpenMs: 30_000 });
    breaker.failure(breaker.admit());
    const intervals = [breaker.msUntilProbe];
    for (let i = 0; i < 7; i++) {
      clock.now += breaker.msUntilProbe;
      const probe = breaker.admit();
      expect(breaker.state).toBe('half_open');
      breaker.failure(probe);
      expect(breaker.state).toBe('open');
      intervals.push(breaker.msUntilProbe);
    }
    expect(intervals).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(transitions.filter((t) => t.to === 'open').map((t) => t.reopenings)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    clock.now += breaker.msUntilProbe;
    breaker.success(breaker.admit());
    expect(breaker.state).toBe('closed');
    // A new outage starts from the shortest interval again.
    breaker.failure(breaker.admit());
    expect(breaker.msUntilProbe).toBe(1000);
  });

  it('draws each interval after the first from 75–100 % of its nominal length, never below minOpenMs', () => {
    const draws = [0.999_999, 0.5, 0];
    const { clock, breaker } = breakerAt(
      { failures: 1, minOpenMs: 1000, maxOpenMs: 4000 },
      { random: () => draws.shift() ?? 0 },
    );
    breaker.failure(breaker.admit());
    expect(breaker.msUntilProbe).toBe(1000); // the first interval is exact: the outage itself is the jitter
    const reopen = () => {
      clock.now += breaker.msUntilProbe;
      breaker.failure(breaker.admit());
      return breaker.msUntilProbe;
    };
    expect(reopen()).toBe(1500); // nominal 2000, random ~1: 75 %
    expect(reopen()).toBe(3500); // nominal 4000, random 0.5: 87.5 %
    expect(reopen()).toBe(4000); // nominal 4000 (capped), random 0: 100 %
    const tight = breakerAt({ failures: 1, minOpenMs: 1000, maxOpenMs: 1000 }, { random: () => 0.999 });
    tight.breaker.failure(tight.breaker.admit());
    tight.clock.now += 1000;
    tight.breaker.failure(tight.breaker.admit());
    expect(tight.breaker.msUntilProbe).toBe(1000); // 75 % of 1000 would be below minOpenMs
  });

  it('ignores the results of calls admitted before the last state change', () => {
    const { clock, breaker, transitions } = breakerAt({ failures: 3, minOpenMs: 1000 });
    // Twenty calls in flight when the store hangs: they all time out, the circuit opens once.
    const inFlight = Array.from({ length: 20 }, () => breaker.admit());
    for (const permit of inFlight) breaker.failure(permit);
    expect(transitions.filter((t) => t.to === 'open')).toHaveLength(1);
    expect(transitions[0]?.failures).toBe(3);
    // A straggler that succeeds while open does not close it: only a probe does.
    const straggler = inFlight[0] as number;
    breaker.success(straggler);
    expect(breaker.state).toBe('open');
    clock.now = 1000;
    const probe = breaker.admit();
    // Nor do stale results decide the half-open circuit in the probe's place.
    breaker.failure(straggler);
    breaker.success(straggler);
    expect(breaker.state).toBe('half_open');
    breaker.success(probe);
    expect(breaker.state).toBe('closed');
    // A permit from the previous closed period does not count towards the next opening.
    breaker.failure(straggler);
    breaker.failure(straggler);
    breaker.failure(straggler);
    expect(breaker.state).toBe('closed');
    expect(breaker.failures).toBe(0);
  });

  it('keeps deciding when the transition callback throws', () => {
    const { clock, breaker } = breakerAt(
      { failures: 1, minOpenMs: 10 },
      {
        onTransition: () => {
          throw new Error('logger down');
        },
      },
    );
    expect(() => breaker.failure(breaker.admit())).not.toThrow();
    expect(breaker.state).toBe('open');
    clock.now = 10;
    const probe = breaker.admit();
    expect(() => breaker.success(probe)).not.toThrow();
    expect(breaker.state).toBe('closed');
  });

  it('numbers its states for the gauge from least to most severe', () => {
    expect(CIRCUIT_STATE_VALUES).toEqual({ closed: 0, half_open: 1, open: 2 });
  });
});

describe('parseCircuitOptions and the `circuit` option', () => {
  const build = (circuit: unknown) =>
    new RateLimiter({ max: 1, window: '1s', circuit } as unknown as RateLimiterOptions);

  function optionError(circuit: unknown): InvalidOptionError {
    try {
      build(circuit);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      return error as InvalidOptionError;
    }
    throw new Error(`RateLimiter accepted circuit ${JSON.stringify(circuit)}`);
  }

  it('is on by default: 5 failures, 1 s doubling to 30 s', () => {
    expect(RATE_LIMITER_OPTIONS.has('circuit')).toBe(true);
    expect(CIRCUIT_DEFAULTS).toEqual({ failures: 5, minOpenMs: 1000, maxOpenMs: 30_000 });
    expect(Object.isFrozen(CIRCUIT_DEFAULTS)).toBe(true);
    expect(build(undefined).circuit?.config).toEqual(CIRCUIT_DEFAULTS);
    expect(build(true).circuit?.config).toEqual(CIRCUIT_DEFAULTS);
    expect(build(false).circuit).toBeUndefined();
    expect(build(undefined).circuit?.state).toBe('closed');
  });

  it('takes partial settings over the defaults, frozen', () => {
    const config = parseCircuitOptions({ failures: 2 });
    expect(config).toEqual({ failures: 2, minOpenMs: 1000, maxOpenMs: 30_000 });
    expect(Object.isFrozen(config)).toBe(true);
    expect(parseCircuitOptions({ minOpenMs: 50, maxOpenMs: 50 })).toEqual({
      failures: 5,
      minOpenMs: 50,
      maxOpenMs: 50,
    });
    // A minOpenMs above the default maximum raises the maximum with it rather than failing.
    expect(parseCircuitOptions({ minOpenMs: 60_000 })).toMatchObject({ minOpenMs: 60_000, maxOpenMs: 60_000 });
    expect(build({ failures: 3, minOpenMs: 200, maxOpenMs: 800 }).circuit?.config).toEqual({
      failures: 3,
      minOpenMs: 200,
      maxOpenMs: 800,
    });
  });

  it.each([
    ['on', 'circuit', '"on"'],
    [0, 'circuit', '0'],
    [null, 'circuit', 'null'],
    [[5], 'circuit', 'an array of 1'],
    [{ failures: 0 }, 'circuit.failures', '0'],
    [{ failures: 2.5 }, 'circuit.failures', '2.5'],
    [{ failures: '5' }, 'circuit.failures', '"5"'],
    [{ minOpenMs: -1 }, 'circuit.minOpenMs', '-1'],
    [{ minOpenMs: Number.NaN }, 'circuit.minOpenMs', 'NaN'],
    [{ maxOpenMs: Number.POSITIVE_INFINITY }, 'circuit.maxOpenMs', 'Infinity'],
    [{ minOpenMs: 5000, maxOpenMs: 1000 }, 'circuit.maxOpenMs', '1000'],
  ])('rejects circuit %j, naming %s and echoing %s', (circuit, option, shown) => {
    const error = optionError(circuit);
    expect(error.code).toBe(ErrorCodes.INVALID_OPTION);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`\`${option}\``);
    expect(error.message).toContain(shown);
    expect(error.message).toContain('accepted');
  });

  it('rejects an unknown setting with the unknown-option code, listing the accepted ones', () => {
    const error = optionError({ failure: 3 });
    expect(error.code).toBe(ErrorCodes.UNKNOWN_OPTION);
    expect(error.option).toBe('circuit.failure');
    expect(error.message).toContain('failures, minOpenMs, maxOpenMs');
  });

  it('says which bound a maxOpenMs below minOpenMs breaks', () => {
    expect(optionError({ minOpenMs: 5000, maxOpenMs: 1000 }).message).toContain('>= circuit.minOpenMs (5000)');
  });
});

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function collectingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: object, message: string) => {
    lines.push({ level, fields: fields as Record<string, unknown>, message });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

type Mode = 'up' | 'reject' | 'hang' | 'late-reject' | 'unavailable';

/** A store in front of a MemoryStore whose behaviour the test switches; it counts its calls. */
function switchableStore() {
  const backing = new MemoryStore();
  const state = { mode: 'up' as Mode, calls: 0 };
  const act = (answer: () => StoreResult): Promise<StoreResult> => {
    state.calls += 1;
    switch (state.mode) {
      case 'reject':
        return Promise.reject(new Error('ECONNRESET'));
      case 'hang':
        return new Promise<StoreResult>(() => {});
      case 'late-reject':
        // Fails only after the limiter has given up on it, as a command to a hung Redis does.
        return new Promise<StoreResult>((_, reject) => setTimeout(() => reject(new Error('late failure')), 40));
      default:
        return Promise.resolve(answer());
    }
  };
  const store = {
    state,
    backing,
    consume: (key: string, buckets: readonly BucketSpec[], costs: readonly number[]) =>
      act(() => backing.consume(key, buckets, costs)),
    peek: (key: string, buckets: readonly BucketSpec[]) => act(() => backing.peek(key, buckets)),
    reset: (key: string) => backing.reset(key),
    isAvailable: () => state.mode !== 'unavailable',
  };
  return store satisfies Store;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  vi.useRealTimers();
});

let limiterCount = 0;

/** A limiter on a switchable store, with `performance.now` (the breaker's clock) under the test's control. */
function limiterWith(failMode: FailMode = 'local', circuit: RateLimiterOptions['circuit'] = undefined) {
  vi.useFakeTimers({ toFake: ['performance'] });
  const store = switchableStore();
  cleanups.push(() => store.backing.close());
  const logger = collectingLogger();
  limiterCount += 1;
  const name = `circuit-unit-${limiterCount}`;
  const limiter = new RateLimiter({
    max: 3,
    window: '1h',
    store,
    logger,
    failMode,
    timeoutMs: 20,
    name,
    ...(circuit === undefined ? {} : { circuit }),
  });
  return { store, logger, limiter, name, advance: (ms: number) => vi.advanceTimersByTime(ms) };
}

async function metricLines(name: string, limiter: string): Promise<string[]> {
  return (await register.getSingleMetricAsString(name)).split('\n').filter((l) => l.includes(`limiter="${limiter}"`));
}

describe('RateLimiter with its circuit breaker', () => {
  it('after 5 failures stops calling the store, answers from failMode, and logs the opening once', async () => {
    const { store, limiter, logger } = limiterWith('local');
    store.state.mode = 'reject';
    for (let i = 0; i < 5; i++) await limiter.consume('k');
    expect(store.state.calls).toBe(5);
    expect(limiter.circuit?.state).toBe('open');
    const during = [];
    for (let i = 0; i < 20; i++) during.push(await limiter.consume(`other-${i % 2}`));
    expect(await limiter.peek('k')).toMatchObject({ source: 'local' });
    expect(store.state.calls).toBe(5);
    expect(during.every((d) => d.source === 'local')).toBe(true);
    // The local bucket still enforces the policy: 3 per key.
    expect(during.filter((d) => d.allowed)).toHaveLength(6);
    expect(limiter.health).toMatchObject({ failures: 5, fallbacks: 26, shortCircuited: 21 });
    const opened = logger.lines.filter((l) => l.message === 'circuit opened');
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ level: 'warn', fields: { failures: 5, openMs: 1000, failMode: 'local' } });
    expect(Date.parse(String(opened[0]?.fields.nextProbeAt))).toBeGreaterThan(Date.now());
    expect(logger.lines.map((l) => l.message)).toEqual(['rate limit store failed', 'circuit opened']);
  });

  it('probes once after minOpenMs and closes when the store answers; the store is exact again', async () => {
    const { store, limiter, logger, advance } = limiterWith('local');
    store.state.mode = 'reject';
    for (let i = 0; i < 5; i++) await limiter.consume('k');
    store.state.mode = 'up';
    advance(999);
    expect((await limiter.consume('k')).source).toBe('local');
    expect(store.state.calls).toBe(5);
    advance(1);
    const probe = await limiter.consume('fresh');
    expect(probe).toMatchObject({ source: 'store', allowed: true, remaining: 2 });
    expect(store.state.calls).toBe(6);
    expect(limiter.circuit?.state).toBe('closed');
    const after = [];
    for (let i = 0; i < 4; i++) after.push(await limiter.consume('fresh'));
    expect(after.map((d) => [d.source, d.allowed])).toEqual([
      ['store', true],
      ['store', true],
      ['store', false],
      ['store', false],
    ]);
    expect(logger.lines.map((l) => [l.level, l.message])).toEqual([
      ['error', 'rate limit store failed'],
      ['warn', 'circuit opened'],
      ['debug', 'circuit half-open: probing the store'],
      ['warn', 'rate limit store recovered'],
      ['warn', 'circuit closed'],
    ]);
    expect(logger.lines[4]?.fields).toMatchObject({ limiter: limiter.label, openForMs: 1000 });
  });

  it('reopens for longer after a failed probe, and counts every transition in metrics', async () => {
    const { store, limiter, logger, advance, name } = limiterWith('open', { failures: 2, minOpenMs: 100 });
    expect(await metricLines('tollgate_ratelimit_circuit_state', name)).toEqual([
      `tollgate_ratelimit_circuit_state{limiter="${name}"} 0`,
    ]);
    store.state.mode = 'reject';
    await limiter.consume('k');
    await limiter.consume('k');
    expect(await metricLines('tollgate_ratelimit_circuit_state', name)).toEqual([
      `tollgate_ratelimit_circuit_state{limiter="${name}"} 2`,
    ]);
    advance(100);
    await limiter.consume('k'); // the probe fails
    expect(limiter.circuit?.state).toBe('open');
    const reopened = logger.lines.find((l) => l.message === 'circuit reopened');
    expect(reopened).toMatchObject({ level: 'info', fields: { failedProbes: 1 } });
    const openMs = reopened?.fields.openMs as number;
    expect(openMs).toBeGreaterThanOrEqual(150);
    expect(openMs).toBeLessThanOrEqual(200);
    advance(openMs - 1);
    await limiter.consume('k');
    expect(store.state.calls).toBe(3);
    store.state.mode = 'up';
    advance(1);
    expect((await limiter.consume('k')).source).toBe('store');
    expect(await metricLines('tollgate_ratelimit_circuit_state', name)).toEqual([
      `tollgate_ratelimit_circuit_state{limiter="${name}"} 0`,
    ]);
    expect(await metricLines('tollgate_ratelimit_circuit_transitions_total', name)).toEqual([
      `tollgate_ratelimit_circuit_transitions_total{limiter="${name}",to="closed"} 1`,
      `tollgate_ratelimit_circuit_transitions_total{limiter="${name}",to="half_open"} 2`,
      `tollgate_ratelimit_circuit_transitions_total{limiter="${name}",to="open"} 2`,
    ]);
    expect(logger.lines.filter((l) => l.message === 'circuit opened')).toHaveLength(1);
    expect(logger.lines.filter((l) => l.message === 'circuit closed')).toHaveLength(1);
  });

  it('a hung store: after 5 timeouts, decisions stop waiting for it; concurrent callers share one probe', async () => {
    const { store, limiter } = limiterWith('closed');
    store.state.mode = 'hang';
    // Six concurrent calls all wait timeoutMs: they were already in flight.
    const first = await Promise.all(Array.from({ length: 6 }, () => limiter.consume('k')));
    expect(first.map((d) => d.source)).toEqual(Array(6).fill('closed'));
    expect(limiter.circuit?.state).toBe('open');
    expect(store.state.calls).toBe(6);
    // While open, failMode 'closed' refuses without calling (or waiting for) the store.
    const during = await Promise.all(Array.from({ length: 50 }, () => limiter.consume('k')));
    expect(during.every((d) => d.source === 'closed' && !d.allowed)).toBe(true);
    expect(store.state.calls).toBe(6);
    vi.advanceTimersByTime(1000);
    // Half-open: ten concurrent callers, one probe; the other nine do not wait for it.
    const probing = await Promise.all(Array.from({ length: 10 }, () => limiter.consume('k')));
    expect(store.state.calls).toBe(7);
    expect(probing.every((d) => d.source === 'closed')).toBe(true);
    expect(limiter.circuit?.state).toBe('open');
    expect(limiter.health.failures).toBe(7);
    expect(limiter.health.shortCircuited).toBe(59);
  });

  it('counts a store that says it is not connected towards opening, and probes it the same way', async () => {
    const { store, limiter, advance } = limiterWith('open');
    store.state.mode = 'unavailable';
    for (let i = 0; i < 5; i++) await limiter.consume('k');
    expect(limiter.circuit?.state).toBe('open');
    expect(limiter.health.failures).toBe(5);
    advance(1000);
    await limiter.consume('k'); // the probe finds it still down
    expect(limiter.circuit?.state).toBe('open');
    expect(store.state.calls).toBe(0);
  });

  it('a success between failures keeps the circuit closed', async () => {
    const { store, limiter } = limiterWith('local');
    for (let round = 0; round < 5; round++) {
      store.state.mode = 'reject';
      for (let i = 0; i < 4; i++) await limiter.consume(`k${round}`);
      store.state.mode = 'up';
      await limiter.consume(`k${round}`);
    }
    expect(limiter.circuit?.state).toBe('closed');
    expect(store.state.calls).toBe(25);
  });

  it('circuit: false sends every decision to the store, as before', async () => {
    const { store, limiter } = limiterWith('local', false);
    store.state.mode = 'reject';
    for (let i = 0; i < 20; i++) await limiter.consume('k');
    expect(store.state.calls).toBe(20);
    expect(limiter.circuit).toBeUndefined();
    expect(limiter.health).toMatchObject({ failures: 20, fallbacks: 20, shortCircuited: 0 });
  });
});

describe('a store call that fails after its timeout', () => {
  it('never becomes an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const store = switchableStore();
      cleanups.push(() => store.backing.close());
      store.state.mode = 'late-reject';
      const limiter = new RateLimiter({ max: 3, window: '1h', store, timeoutMs: 5, logger: collectingLogger() });
      const decisions = await Promise.all(Array.from({ length: 8 }, () => limiter.consume('k')));
      expect(decisions.every((d) => d.source === 'local')).toBe(true);
      // Let every late rejection land, then give unhandled-rejection tracking a turn.
      await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
      expect(limiter.health.failures).toBe(8);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('circuit metrics', () => {
  // Skipped, with one loud line from test/global-setup.ts, only where promtool is missing outside CI.
  it.skipIf(!injectedPromtool().available)('pass promtool check metrics', async () => {
    const { store, limiter } = limiterWith('local', { failures: 1, minOpenMs: 10 });
    store.state.mode = 'reject';
    await limiter.consume('k');
    const body = await register.metrics();
    expect(body).toContain('# TYPE tollgate_ratelimit_circuit_state gauge');
    expect(body).toContain('# TYPE tollgate_ratelimit_circuit_transitions_total counter');
    expect(runPromtool(['check', 'metrics'], { input: body })).toEqual({ status: 0, output: '' });
  });
});
