import type * as PromClient from 'prom-client';
import type { Metric, Registry } from 'prom-client';
import { promClient, promClientIfInstalled } from './peers.js';

let registry: Registry | undefined;

/** tollgate's registry, made (and prom-client loaded) on first use; `feature` names the user for the error. */
export function tollgateRegistry(feature = 'register'): Registry {
  registry ??= new (promClient(feature).Registry)();
  return registry;
}

/**
 * The prom-client registry every tollgate metric lives in. It is a dedicated registry, not
 * prom-client's global one, so an app's own metrics and tollgate's cannot collide by accident;
 * to serve both from one endpoint, pass the app's registry to `metricsHandler({ registry })`.
 *
 * prom-client is an optional peer dependency: the registry is made, and prom-client loaded, the
 * first time it is used (a method call or a metric registered), and using it without prom-client
 * installed throws `TOLLGATE_PEER_DEPENDENCY_MISSING`. It holds only the families of what exists:
 * a limiter's once a limiter is built, the HTTP duration once `telemetry()` is, and so on.
 *
 * It renders Prometheus text (0.0.4). Serve it with `scrapeMetrics()`, which also renders
 * OpenMetrics, with exemplars, from these same metrics when the scraper asks for it. Do not call
 * `register.setContentType()`: prom-client's OpenMetrics rendering renames counter objects in
 * place, which `scrapeMetrics()` avoids.
 */
export const register: Registry = new Proxy(Object.create(null) as Registry, {
  get(_target, property) {
    const real = tollgateRegistry();
    const value: unknown = Reflect.get(real, property, real);
    return typeof value === 'function' ? value.bind(real) : value;
  },
  set(_target, property, value) {
    return Reflect.set(tollgateRegistry(), property, value);
  },
  has(_target, property) {
    return Reflect.has(tollgateRegistry(), property);
  },
  // `register instanceof Registry` holds, as it did when this was the registry itself.
  getPrototypeOf() {
    return Reflect.getPrototypeOf(tollgateRegistry());
  },
});

/**
 * Adds a metric built with `registers: []`. prom-client refuses, at construction, to put an
 * exemplar-enabled metric in a Prometheus-text registry, although rendering one there simply
 * leaves the exemplars out; adding it afterwards gives one metric both formats.
 */
export function addMetric(metric: Metric): void {
  tollgateRegistry().registerMetric(metric);
}

/**
 * A metric family made on first use, when the thing it measures first exists, and registered in
 * `register` then: importing tollgate registers nothing. `undefined` (and nothing recorded)
 * without prom-client: nobody can scrape then, and a limiter must work without it.
 */
export function lazyFamily<T extends Metric>(build: (prom: typeof PromClient) => T): () => T | undefined {
  let made: T | undefined;
  let tried = false;
  return () => {
    if (!tried) {
      tried = true;
      const prom = promClientIfInstalled();
      if (prom !== undefined) {
        made = build(prom);
        addMetric(made);
      }
    }
    return made;
  };
}

let defaultsCollected = false;

/**
 * Opt-in: adds prom-client's default process and Node.js metrics (CPU, memory, event loop lag,
 * GC, handles) to `register`. Calling it again does nothing. Needs prom-client installed.
 *
 * Three of prom-client's defaults are left out: `nodejs_active_handles_total`,
 * `nodejs_active_requests_total` and `nodejs_active_resources_total` are gauges whose names end
 * in `_total`, which `promtool check metrics` rejects, and each is only the sum of its per-type
 * gauge (`sum(nodejs_active_handles)`), so nothing is lost.
 */
export function collectDefaultMetrics(): void {
  if (defaultsCollected) return;
  const prom = promClient('collectDefaultMetrics()');
  defaultsCollected = true;
  const staging = new prom.Registry();
  prom.collectDefaultMetrics({ register: staging });
  for (const metric of staging.getMetricsAsArray()) {
    // getMetricsAsArray() is typed as plain descriptions, but it returns the metric objects themselves.
    const kind = (metric as unknown as { type: string }).type;
    if (kind !== 'counter' && metric.name.endsWith('_total')) continue;
    tollgateRegistry('collectDefaultMetrics()').registerMetric(metric as unknown as Metric);
  }
}
