import { collectDefaultMetrics as collectPromClientDefaults, type Metric, Registry } from 'prom-client';

/**
 * The prom-client registry every tollgate metric lives in. It is a dedicated registry, not
 * prom-client's global one, so an app's own metrics and tollgate's cannot collide by accident;
 * register the app's metrics here too (or merge registries) to serve everything from one endpoint.
 *
 * It renders Prometheus text (0.0.4). Serve it with `scrapeMetrics()`, which also renders
 * OpenMetrics, with exemplars, from these same metrics when the scraper asks for it. Do not call
 * `register.setContentType()`: prom-client's OpenMetrics rendering renames counter objects in
 * place, which `scrapeMetrics()` avoids.
 */
export const register = new Registry();

/**
 * Adds a metric built with `registers: []`. prom-client refuses, at construction, to put an
 * exemplar-enabled metric in a Prometheus-text registry, although rendering one there simply
 * leaves the exemplars out; adding it afterwards gives one metric both formats.
 */
export function addMetric(metric: Metric): void {
  register.registerMetric(metric);
}

let defaultsCollected = false;

/**
 * Opt-in: adds prom-client's default process and Node.js metrics (CPU, memory, event loop lag,
 * GC, handles) to `register`. Calling it again does nothing.
 *
 * Three of prom-client's defaults are left out: `nodejs_active_handles_total`,
 * `nodejs_active_requests_total` and `nodejs_active_resources_total` are gauges whose names end
 * in `_total`, which `promtool check metrics` rejects, and each is only the sum of its per-type
 * gauge (`sum(nodejs_active_handles)`), so nothing is lost.
 */
export function collectDefaultMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  const staging = new Registry();
  collectPromClientDefaults({ register: staging });
  for (const metric of staging.getMetricsAsArray()) {
    // getMetricsAsArray() is typed as plain descriptions, but it returns the metric objects themselves.
    const kind = (metric as unknown as { type: string }).type;
    if (kind !== 'counter' && metric.name.endsWith('_total')) continue;
    register.registerMetric(metric as unknown as Metric);
  }
}
