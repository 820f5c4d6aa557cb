import { ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import { consoleLogger } from '../log.js';
import { BoundedValues, OVERFLOW_LABEL } from './bounded-values.js';
import { DURATION_BUCKETS } from './buckets.js';
import { exemplarFor } from './exemplar.js';
import { prometheusName, withSuffix } from './metric-name.js';
import { promClient } from './peers.js';
import { addMetric, tollgateRegistry } from './registry.js';

/** `'ms'` or `'s'`: the value is a duration. */
export type MetricUnit = 'ms' | 's';

/** Label values by attribute key, e.g. `{ 'db.operation': 'select' }`. */
export type MetricAttributes = Readonly<Record<string, string | number | boolean>>;

/** The options of `recordMetric`. */
export interface RecordMetricOptions {
  /**
   * `'ms'` or `'s'`: a duration, observed in seconds in the histogram `<name>_seconds`.
   * Absent: a count, added to the counter `<name>_total` (the value must be >= 0).
   */
  unit?: MetricUnit | undefined;
  /**
   * Label values. The first call for a name fixes the label keys; a later call with other keys
   * throws `TOLLGATE_METRIC_LABELS_MISMATCH`. Never put a client identifier, a raw path or any
   * other unbounded value here: each distinct combination is a series kept forever.
   */
  attributes?: MetricAttributes | undefined;
  /** The HELP text, read when the first call creates the metric. */
  description?: string | undefined;
}

/**
 * Most label combinations one `recordMetric` metric keeps. Past it, each new combination is
 * recorded with every label `_OVERFLOW`, so a mistaken unbounded attribute costs one series more,
 * not one per value.
 */
export const MAX_SERIES_PER_METRIC = 1000;

type Kind = 'counter' | 'histogram';

interface Instrument {
  readonly name: string;
  readonly kind: Kind;
  readonly labelNames: readonly string[];
  /** Attribute key -> label name, grown as keys that sanitize to a known label are seen. */
  readonly labelOf: Map<string, string>;
  readonly series: BoundedValues;
  overflowed: boolean;
  readonly record: (labels: Record<string, string>, value: number) => void;
}

/** By unit and caller's name: the fast path, which skips name sanitizing. */
const byCall = new Map<string, Instrument>();
/** By Prometheus name: two spellings of one name (`a.b`, `a_b`) share one metric. */
const byName = new Map<string, Instrument>();

/**
 * Records `value` under `name`. Each name gets one prom-client metric in `register`, created by
 * the first call and reused after it: durations (`unit: 'ms' | 's'`) go to a histogram in
 * seconds named `<name>_seconds` (milliseconds are converted), anything else to a counter named
 * `<name>_total`. Names are made Prometheus-safe (`db.query.duration` becomes
 * `db_query_duration_seconds`). A histogram observation made inside a sampled span carries its
 * trace as an exemplar in OpenMetrics output.
 *
 * @example
 * recordMetric('db.query.duration', 12.5, { unit: 'ms', attributes: { 'db.operation': 'select' } });
 * recordMetric('cache.miss', 1, { attributes: { cache: 'users' } });
 */
export function recordMetric(name: string, value: number, options?: RecordMetricOptions): void {
  const unit = options?.unit;
  if (unit !== undefined && unit !== 'ms' && unit !== 's') {
    throw new InvalidOptionError('unit', unit, "accepted: 'ms', 's', or none for a counter");
  }
  const instrument = byCall.get(`${unit ?? ''}\u0000${name}`) ?? resolve(name, unit, options);
  if (typeof value !== 'number' || !Number.isFinite(value) || (instrument.kind === 'counter' && value < 0)) {
    throw new TollgateError(
      ErrorCodes.INVALID_METRIC_VALUE,
      `tollgate: recordMetric('${name}') got ${String(value)}; accepted: a finite number${
        instrument.kind === 'counter' ? ' >= 0 (a counter only goes up)' : ''
      }`,
    );
  }
  instrument.record(labelsFor(instrument, name, options?.attributes), unit === 'ms' ? value / 1000 : value);
}

function resolve(raw: string, unit: MetricUnit | undefined, options: RecordMetricOptions | undefined): Instrument {
  if (typeof raw !== 'string' || prometheusName(raw) === '') {
    throw new InvalidOptionError('name', raw, 'accepted: a metric name with at least one letter or digit');
  }
  const kind: Kind = unit === undefined ? 'counter' : 'histogram';
  const base = prometheusName(raw);
  const name =
    unit === undefined
      ? withSuffix(base, '_total')
      : withSuffix(base, '_seconds', unit === 'ms' ? ['_milliseconds', '_ms'] : ['_s']);
  let instrument = byName.get(name);
  if (instrument === undefined) {
    instrument = create(name, kind, labelNamesOf(raw, kind, options?.attributes), raw, options?.description);
    byName.set(name, instrument);
  }
  byCall.set(`${unit ?? ''}\u0000${raw}`, instrument);
  return instrument;
}

function labelNamesOf(raw: string, kind: Kind, attributes: MetricAttributes | undefined): string[] {
  if (attributes !== undefined && (typeof attributes !== 'object' || attributes === null)) {
    throw new InvalidOptionError('attributes', attributes, 'accepted: an object of label values');
  }
  const names = Object.keys(attributes ?? {}).map((key) => {
    const label = prometheusName(key);
    if (label === '' || (kind === 'histogram' && label === 'le')) {
      throw new InvalidOptionError(
        'attributes',
        key,
        `recordMetric('${raw}'): attribute keys must make a label name with a letter or digit, and not 'le' on a histogram`,
      );
    }
    return label;
  });
  if (new Set(names).size !== names.length) {
    throw new InvalidOptionError(
      'attributes',
      names.join(', '),
      `recordMetric('${raw}'): two keys make one label name`,
    );
  }
  return names.sort();
}

function create(
  name: string,
  kind: Kind,
  labelNames: string[],
  raw: string,
  description: string | undefined,
): Instrument {
  const { Counter, Histogram } = promClient('recordMetric()');
  if (tollgateRegistry('recordMetric()').getSingleMetric(name) !== undefined) {
    throw new TollgateError(
      ErrorCodes.METRIC_CONFLICT,
      `tollgate: recordMetric('${raw}') would create ${name}, but a metric of that name is already registered`,
    );
  }
  const help =
    typeof description === 'string' && description !== '' ? description : `${raw} (recorded with recordMetric)`;
  let record: Instrument['record'];
  if (kind === 'counter') {
    const counter = new Counter({ name, help, labelNames, registers: [] });
    addMetric(counter);
    record = (labels, value) => counter.inc(labels, value);
  } else {
    const histogram = new Histogram({
      name,
      help,
      labelNames,
      buckets: [...DURATION_BUCKETS],
      enableExemplars: true,
      registers: [],
    });
    addMetric(histogram);
    record = (labels, value) => {
      const exemplarLabels = exemplarFor();
      histogram.observe(exemplarLabels === undefined ? { labels, value } : { labels, value, exemplarLabels });
    };
  }
  return {
    name,
    kind,
    labelNames,
    labelOf: new Map(),
    series: new BoundedValues(MAX_SERIES_PER_METRIC),
    overflowed: false,
    record,
  };
}

function labelsFor(
  instrument: Instrument,
  raw: string,
  attributes: MetricAttributes | undefined,
): Record<string, string> {
  const labels: Record<string, string> = {};
  const keys = attributes === undefined ? [] : Object.keys(attributes);
  let assigned = 0;
  for (const key of keys) {
    let label = instrument.labelOf.get(key);
    if (label === undefined) {
      const candidate = prometheusName(key);
      if (!instrument.labelNames.includes(candidate)) throw mismatch(instrument, raw, keys);
      label = candidate;
      instrument.labelOf.set(key, label);
    }
    if (labels[label] !== undefined) throw mismatch(instrument, raw, keys);
    labels[label] = String((attributes as MetricAttributes)[key]);
    assigned += 1;
  }
  if (assigned !== instrument.labelNames.length) throw mismatch(instrument, raw, keys);
  if (assigned === 0) return labels;
  const key = instrument.labelNames.map((l) => labels[l]).join('\u0000');
  if (instrument.series.admit(key)) return labels;
  if (!instrument.overflowed) {
    instrument.overflowed = true;
    consoleLogger.warn(
      { metric: instrument.name, max: MAX_SERIES_PER_METRIC },
      'recordMetric: too many label combinations; new ones are recorded as _OVERFLOW',
    );
  }
  for (const l of instrument.labelNames) labels[l] = OVERFLOW_LABEL;
  return labels;
}

function mismatch(instrument: Instrument, raw: string, keys: readonly string[]): TollgateError {
  const fixed = instrument.labelNames.length === 0 ? 'none' : instrument.labelNames.join(', ');
  return new TollgateError(
    ErrorCodes.METRIC_LABELS_MISMATCH,
    `tollgate: recordMetric('${raw}') got attributes {${keys.join(', ')}}, but ${instrument.name} has the labels {${fixed}} fixed by its first call`,
  );
}
