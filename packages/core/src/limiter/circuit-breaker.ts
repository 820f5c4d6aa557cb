import { ErrorCodes, InvalidOptionError } from '../errors.js';
import { ownOptions, positiveInteger, timerMs } from '../options/validate.js';

/**
 * The breaker's state:
 * - `closed`: every decision goes to the store;
 * - `open`: no decision goes to the store, `failMode` answers at in-process speed;
 * - `half_open`: one probe decision goes to the store, the others still use `failMode`.
 */
export type CircuitState = 'closed' | 'half_open' | 'open';

/** The circuit breaker settings of a `RateLimiter` (its `circuit` option). */
export interface CircuitOptions {
  /** Consecutive store failures or timeouts that open the circuit (default 5). */
  failures?: number;
  /** How long the circuit stays open the first time before a probe, in ms (default 1000). */
  minOpenMs?: number;
  /** The longest it stays open: the interval doubles after each failed probe up to this (default 30000). */
  maxOpenMs?: number;
}

/** The parsed, frozen settings. */
export interface CircuitConfig {
  readonly failures: number;
  readonly minOpenMs: number;
  readonly maxOpenMs: number;
}

/** The settings used when `circuit` is `true` or not given: 5 failures, 1 s, 30 s. */
export const CIRCUIT_DEFAULTS: CircuitConfig = Object.freeze({ failures: 5, minOpenMs: 1000, maxOpenMs: 30_000 });

const CIRCUIT_OPTIONS: readonly string[] = Object.freeze(['failures', 'minOpenMs', 'maxOpenMs']);

/** One state change, as the breaker reports it. */
export interface CircuitTransition {
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Consecutive failures that opened the circuit (`to: 'open'` from `closed`), else 0. */
  readonly failures: number;
  /** When `to` is `open`: how long until the next probe may go, in ms. */
  readonly openMs: number;
  /** Failed probes since the circuit last closed. */
  readonly reopenings: number;
  /** When `to` is `closed`: how long the circuit was not closed, in ms. */
  readonly outageMs: number;
}

export interface CircuitBreakerDeps {
  /** A monotonic clock in ms (default `performance.now`). */
  now?: () => number;
  /** A uniform random number in [0, 1) for the jitter (default `Math.random`). */
  random?: () => number;
  /** Called once per state change. Must not throw; if it does, the breaker carries on. */
  onTransition?: (transition: CircuitTransition) => void;
}

/** What `admit()` returns when the call must not go to the store. */
export const NO_CALL = -1;

/** Share of each open interval drawn at random, so the processes of a fleet spread their probes. */
const JITTER = 0.25;

/**
 * A circuit breaker for one store: after `failures` consecutive failures (errors, timeouts, or
 * a store that says it is not connected) it opens, and calls stop for an interval that starts
 * at `minOpenMs` and doubles after each failed probe up to `maxOpenMs` (each interval after the
 * first drawn from 75 to 100 % of its nominal length, never below `minOpenMs`). Then one call
 * goes through as a probe while the others keep being refused: its success closes the circuit,
 * its failure opens it again for longer.
 *
 * Calls are tracked by permit: `admit()` hands out a number that the caller gives back to
 * `success()` or `failure()`. Results of calls admitted before the last state change are
 * ignored, so the many calls in flight when a store hangs open the circuit once, and only the
 * probe's result decides a half-open circuit.
 *
 * @example
 * const breaker = new CircuitBreaker(CIRCUIT_DEFAULTS);
 * const permit = breaker.admit();
 * if (permit === NO_CALL) return fallback();
 * try { const r = await callStore(); breaker.success(permit); return r; }
 * catch { breaker.failure(permit); return fallback(); }
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  /** Increases at every state change; a permit is the generation it was handed out in. */
  private generation = 0;
  private consecutive = 0;
  private reopenings = 0;
  private probeAt = 0;
  private leftClosedAt = 0;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly onTransition: ((transition: CircuitTransition) => void) | undefined;

  constructor(
    readonly config: CircuitConfig,
    deps: CircuitBreakerDeps = {},
  ) {
    this.now = deps.now ?? (() => performance.now());
    this.random = deps.random ?? Math.random;
    this.onTransition = deps.onTransition;
  }

  /** The current state: `closed`, `half_open` or `open`. */
  get state(): CircuitState {
    return this.current;
  }

  /** Consecutive failures counted towards opening (0 unless closed). */
  get failures(): number {
    return this.consecutive;
  }

  /** Ms until the next probe may go when open; 0 otherwise. */
  get msUntilProbe(): number {
    return this.current === 'open' ? Math.max(0, this.probeAt - this.now()) : 0;
  }

  /**
   * A permit to call the store, or `NO_CALL`. When the open interval is over, the first caller
   * gets the probe's permit and the circuit turns half-open.
   */
  admit(): number {
    if (this.current === 'closed') return this.generation;
    if (this.current === 'open' && this.now() >= this.probeAt) {
      this.change('half_open', 0, 0);
      return this.generation;
    }
    return NO_CALL;
  }

  /** The call with `permit` succeeded. */
  success(permit: number): void {
    if (permit !== this.generation) return;
    if (this.current === 'half_open') {
      const outageMs = this.now() - this.leftClosedAt;
      this.reopenings = 0;
      this.consecutive = 0;
      this.change('closed', 0, 0, outageMs);
    } else {
      this.consecutive = 0;
    }
  }

  /** The call with `permit` failed or timed out, or the store said it was not connected. */
  failure(permit: number): void {
    if (permit !== this.generation) return;
    if (this.current === 'half_open') {
      this.reopenings += 1;
      this.open(0);
      return;
    }
    this.consecutive += 1;
    if (this.consecutive >= this.config.failures) {
      const failures = this.consecutive;
      this.consecutive = 0;
      this.leftClosedAt = this.now();
      this.open(failures);
    }
  }

  private open(failures: number): void {
    const { minOpenMs, maxOpenMs } = this.config;
    const nominal = Math.min(maxOpenMs, minOpenMs * 2 ** this.reopenings);
    const openMs =
      this.reopenings === 0 ? nominal : Math.max(minOpenMs, Math.round(nominal * (1 - JITTER * this.random())));
    this.probeAt = this.now() + openMs;
    this.change('open', failures, openMs);
  }

  private change(to: CircuitState, failures: number, openMs: number, outageMs = 0): void {
    const from = this.current;
    this.current = to;
    this.generation += 1;
    if (this.onTransition === undefined) return;
    try {
      this.onTransition({ from, to, failures, openMs, reopenings: this.reopenings, outageMs });
    } catch {
      // A logging or metrics failure must not change how requests are decided.
    }
  }
}

/**
 * Parses a `RateLimiter`'s `circuit` option: `false` turns the breaker off, `undefined` or
 * `true` keeps the defaults, an object overrides some of them.
 */
export function parseCircuitOptions(value: unknown): CircuitConfig | undefined {
  if (value === false) return undefined;
  if (value === undefined || value === true) return CIRCUIT_DEFAULTS;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError('circuit', value, 'accepted: false, true, or { failures?, minOpenMs?, maxOpenMs? }');
  }
  // Own properties only: a polluted Object.prototype must not set the breaker's thresholds.
  const opts = ownOptions(value);
  for (const name of Object.keys(opts)) {
    if (!CIRCUIT_OPTIONS.includes(name)) {
      throw new InvalidOptionError(
        `circuit.${name}`,
        opts[name],
        `circuit accepts only: ${CIRCUIT_OPTIONS.join(', ')}`,
        ErrorCodes.UNKNOWN_OPTION,
      );
    }
  }
  // The open intervals are durations like timeoutMs: bounded the same way, so no value the
  // breaker accepts could overflow a timer or lose precision when added to the clock.
  const read = (name: keyof CircuitConfig): number => {
    if (opts[name] === undefined) return CIRCUIT_DEFAULTS[name];
    return name === 'failures'
      ? positiveInteger(opts[name], 'circuit.failures')
      : timerMs(opts[name], `circuit.${name}`);
  };
  const failures = read('failures');
  const minOpenMs = read('minOpenMs');
  const maxOpenMs = opts.maxOpenMs === undefined ? Math.max(CIRCUIT_DEFAULTS.maxOpenMs, minOpenMs) : read('maxOpenMs');
  if (maxOpenMs < minOpenMs) {
    throw new InvalidOptionError(
      'circuit.maxOpenMs',
      maxOpenMs,
      `accepted: a whole number >= circuit.minOpenMs (${minOpenMs})`,
    );
  }
  return Object.freeze({ failures, minOpenMs, maxOpenMs });
}
