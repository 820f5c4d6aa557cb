import { type Metric, type OpenMetricsContentType, Registry } from 'prom-client';
import { assertKnownOptions, assertOptionsObject } from '../options/validate.js';
import { register } from './registry.js';

/** What a metrics endpoint writes: the body and its `Content-Type`. */
export interface Scrape {
  readonly contentType: string;
  readonly body: string;
}

/** `Content-Type` of the Prometheus text exposition format (0.0.4). */
export const PROMETHEUS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;
/** `Content-Type` of the OpenMetrics 1.0 text format. */
export const OPENMETRICS_CONTENT_TYPE: string = Registry.OPENMETRICS_CONTENT_TYPE;

/**
 * Renders `register` for a scraper: OpenMetrics 1.0 (with exemplars linking histogram buckets to
 * sampled traces) when `accept` prefers `application/openmetrics-text`, as Prometheus does by
 * default; Prometheus text 0.0.4 otherwise. Adapters' `metricsHandler()` writes the result.
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
export async function scrapeMetrics(accept?: string): Promise<Scrape> {
  if (!prefersOpenMetrics(accept)) {
    return { contentType: register.contentType, body: await register.metrics() };
  }
  const openMetrics = new Registry<OpenMetricsContentType>();
  openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const metric of register.getMetricsAsArray()) openMetrics.registerMetric(openMetricsView(metric));
  return { contentType: openMetrics.contentType, body: await openMetrics.metrics() };
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

/** `metricsHandler()` takes no options yet; anything given is refused rather than ignored. */
export function validateMetricsHandlerOptions(options: unknown): void {
  assertKnownOptions(assertOptionsObject(options, 'metricsHandler'), new Set(), 'metricsHandler');
}
