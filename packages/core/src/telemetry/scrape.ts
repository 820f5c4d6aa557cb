import type { Metric, OpenMetricsContentType, Registry } from 'prom-client';
import { ErrorCodes, InvalidOptionError, TollgateError } from '../errors.js';
import { assertKnownOptions, assertOptionsObject } from '../options/validate.js';
import { promClient } from './peers.js';
import { register, tollgateRegistry } from './registry.js';

/** What a metrics endpoint writes: the body and its `Content-Type`. */
export interface Scrape {
  readonly contentType: string;
  readonly body: string;
}

/** `Content-Type` of the Prometheus text exposition format (0.0.4), as prom-client 15 writes it. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** `Content-Type` of the OpenMetrics 1.0 text format, as prom-client 15 writes it. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** The options of every adapter's `metricsHandler()`. */
export interface MetricsHandlerOptions {
  /**
   * The app's own prom-client registries, served after tollgate's from the same endpoint: pass
   * prom-client's default `register` for metrics made without `registers`, or your own
   * `new Registry()`. One registry or an array of them. A family name present in two of them
   * fails the scrape with `TOLLGATE_METRIC_CONFLICT`.
   */
  registry?: Registry | readonly Registry[] | undefined;
}

const FEATURE = 'metricsHandler()';

/**
 * Renders `register` for a scraper, followed by the app's `registries` if given: OpenMetrics 1.0
 * (with exemplars linking histogram buckets to sampled traces) when `accept` prefers
 * `application/openmetrics-text`, as Prometheus does by default; Prometheus text 0.0.4 otherwise.
 * Adapters' `metricsHandler()` writes the result. Needs prom-client installed.
 *
 * One set of metrics serves both formats. prom-client binds the format to a registry, so the
 * OpenMetrics body comes from a registry made for this scrape that holds the same metric objects.
 * Its renderer renames each counter object in place (`x_total` to `x`, for the family name), which
 * would leak into the next Prometheus scrape, so counters enter it through a view carrying the
 * OpenMetrics name instead.
 *
 * @example
 * const { contentType, body } = await scrapeMetrics(req.headers.accept);
 * res.writeHead(200, { 'Content-Type': contentType }).end(body);
 */
export async function scrapeMetrics(accept?: string, registries: readonly Registry[] = []): Promise<Scrape> {
  const own = tollgateRegistry(FEATURE);
  // tollgate's own registry given as the app's (`register`, or the object behind it) is served once.
  const sources = [own, ...new Set(registries)].filter((r, i) => i === 0 || (r !== own && r !== register));
  assertDistinctFamilies(sources);
  if (!prefersOpenMetrics(accept)) {
    // Each registry renders itself, so each keeps its own default labels; families are separated
    // by a blank line, as within one registry.
    const bodies = (await Promise.all(sources.map((r) => r.metrics()))).map((b) => b.trimEnd()).filter((b) => b !== '');
    return { contentType: PROMETHEUS_CONTENT_TYPE, body: `${bodies.join('\n\n')}\n` };
  }
  const { Registry } = promClient(FEATURE);
  const openMetrics = new Registry<OpenMetricsContentType>();
  openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const source of sources) {
    for (const metric of source.getMetricsAsArray()) openMetrics.registerMetric(openMetricsView(metric));
  }
  return { contentType: openMetrics.contentType, body: await openMetrics.metrics() };
}

/** Two registries serving one family name would give the scraper a duplicate, which it rejects. */
function assertDistinctFamilies(sources: readonly Registry[]): void {
  if (sources.length < 2) return;
  const seen = new Map<string, object>();
  for (const source of sources) {
    for (const metric of source.getMetricsAsArray()) {
      const other = seen.get(metric.name);
      if (other !== undefined && other !== metric) {
        throw new TollgateError(
          ErrorCodes.METRIC_CONFLICT,
          `tollgate: metricsHandler() serves two metrics named ${metric.name}, one from each of two registries; rename one`,
        );
      }
      seen.set(metric.name, metric);
    }
  }
}

/**
 * Whether an `Accept` header prefers OpenMetrics: an `application/openmetrics-text` range with a
 * q-value above 0 and at least that of `text/plain`. Wildcards get the classic text format.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (typeof accept !== 'string' || accept === '') return false;
  let openMetrics = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    let q = 1;
    for (const param of params) {
      if (param.startsWith('q=')) {
        const value = Number(param.slice(2));
        q = Number.isFinite(value) ? value : 0;
      }
    }
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain') text = Math.max(text, q);
  }
  return openMetrics > 0 && openMetrics >= text;
}

interface MetricData {
  name: string;
}

interface Renderable {
  name: string;
  type: string;
  get(): Promise<MetricData>;
}

const views = new WeakMap<object, Renderable>();

/** A counter as the OpenMetrics renderer may rename it: a view, never the shared metric itself. */
function openMetricsView(metric: object): Metric {
  const renderable = metric as Renderable;
  if (renderable.type !== 'counter') return metric as Metric;
  let view = views.get(metric);
  if (view === undefined) {
    const family = renderable.name.replace(/_total$/, '');
    view = {
      name: family,
      type: 'counter',
      get: async () => ({ ...(await renderable.get()), name: family }),
    };
    views.set(metric, view);
  }
  // The registry only reads `name`, `type` and `get()` from what it renders (prom-client 15).
  return view as unknown as Metric;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['registry']);

/**
 * Checks `metricsHandler()`'s options, and that prom-client is installed (a missing one is reported
 * as the app is built, not at the first scrape); returns the app's registries to serve.
 */
export function validateMetricsHandlerOptions(options: unknown): readonly Registry[] {
  const opts = assertOptionsObject(options, 'metricsHandler');
  assertKnownOptions(opts, KNOWN_OPTIONS, 'metricsHandler');
  tollgateRegistry(FEATURE);
  const { registry } = opts;
  if (registry === undefined) return [];
  const registries: unknown[] = Array.isArray(registry) ? registry : [registry];
  if (registries.length === 0 || !registries.every(isRegistry)) {
    throw new InvalidOptionError('registry', registry, 'accepted: a prom-client Registry, or an array of them');
  }
  return Object.freeze([...registries]);
}

/** A prom-client registry, from any copy of prom-client: what rendering reads. */
function isRegistry(value: unknown): value is Registry {
  const r = value as Partial<Record<'metrics' | 'getMetricsAsArray', unknown>> | null;
  return (
    typeof r === 'object' && r !== null && typeof r.metrics === 'function' && typeof r.getMetricsAsArray === 'function'
  );
}
