import type { Counter, Gauge } from 'prom-client';
import type { CircuitState } from '../limiter/circuit-breaker.js';
import { BoundedValues, OVERFLOW_LABEL } from './bounded-values.js';
import { defaultFailureLog } from './failure-log.js';
import { MAX_LIMITER_LABELS } from './rate-limit-metrics.js';
import { lazyFamily } from './registry.js';

/**
 * The value of `tollgate_ratelimit_circuit_state` for each state: 0 closed (the store decides),
 * 1 half-open (one probe is at the store), 2 open (`failMode` decides without the store).
 * Ordered by severity, so `max by (limiter)` over a fleet shows the worst.
 */
export const CIRCUIT_STATE_VALUES: Readonly<Record<CircuitState, number>> = Object.freeze({
  closed: 0,
  half_open: 1,
  open: 2,
});

const STATES: readonly CircuitState[] = Object.freeze(['closed', 'half_open', 'open']);

const state = lazyFamily(
  ({ Gauge }) =>
    new Gauge<'limiter'>({
      name: 'tollgate_ratelimit_circuit_state',
      help: "State of the circuit breaker around each rate limiter's store: 0 closed, 1 half-open, 2 open.",
      labelNames: ['limiter'],
      registers: [],
    }),
);

const transitions = lazyFamily(
  ({ Counter }) =>
    new Counter<'limiter' | 'to'>({
      name: 'tollgate_ratelimit_circuit_transitions_total',
      help: 'Circuit breaker state changes, by limiter and the state entered (closed, half_open, open).',
      labelNames: ['limiter', 'to'],
      registers: [],
    }),
);

interface Children {
  readonly state: Gauge.Internal<'limiter'>;
  readonly to: Record<CircuitState, Counter.Internal>;
}

const limiterLabels = new BoundedValues(MAX_LIMITER_LABELS);
const children = new Map<string, Children>();

/** A limiter's series, or `undefined` without prom-client (nothing to record into). */
function childrenFor(limiter: string): { label: string; series: Children; created: boolean } | undefined {
  const gauge = state();
  const counter = transitions();
  if (gauge === undefined || counter === undefined) return undefined;
  const label = limiterLabels.label(String(limiter));
  let series = children.get(label);
  const created = series === undefined;
  if (series === undefined) {
    series = {
      state: gauge.labels(label),
      to: {
        closed: counter.labels(label, 'closed'),
        half_open: counter.labels(label, 'half_open'),
        open: counter.labels(label, 'open'),
      },
    };
    children.set(label, series);
  }
  return { label, series, created };
}

/**
 * Makes the series of a limiter's circuit exist (state 0, no transitions) before anything
 * happens, so dashboards and alerts see a closed circuit rather than no data. Never throws.
 */
export function initCircuitMetrics(limiter: string): void {
  try {
    const found = childrenFor(limiter);
    if (found === undefined || !found.created) return;
    const { label, series } = found;
    for (const to of STATES) series.to[to].inc(0);
    if (label !== OVERFLOW_LABEL) series.state.set(CIRCUIT_STATE_VALUES.closed);
  } catch (error) {
    defaultFailureLog.report('initCircuitMetrics', error);
  }
}

/**
 * Records that a limiter's circuit entered `to`: sets `tollgate_ratelimit_circuit_state{limiter}`
 * and counts `tollgate_ratelimit_circuit_transitions_total{limiter, to}`. Past
 * `MAX_LIMITER_LABELS` limiter names, transitions are counted under `_OVERFLOW` and no state is
 * set (one gauge cannot hold many limiters' states). Never throws.
 */
export function recordCircuitTransition(limiter: string, to: CircuitState): void {
  try {
    const value = CIRCUIT_STATE_VALUES[to];
    if (value === undefined) throw new TypeError(`unknown circuit state ${String(to)}`);
    const found = childrenFor(limiter);
    if (found === undefined) return;
    const { label, series } = found;
    series.to[to].inc();
    if (label !== OVERFLOW_LABEL) series.state.set(value);
  } catch (error) {
    defaultFailureLog.report('recordCircuitTransition', error);
  }
}
