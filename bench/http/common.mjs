// What every benchmark server shares: the frameworks and ioredis from the root node_modules, the
// limits, a Redis client, and a span pipeline that never leaves the process.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from '../lib/env.mjs';

/** express, koa, @koa/router, fastify and ioredis: the root's copies, as tollgate uses them. */
export const requireRoot = createRequire(join(ROOT, 'package.json'));

export const HELLO = Object.freeze({ hello: 'world' });

const HOUR_MS = 3_600_000;

/**
 * The limit of every limiter contender. Allowed runs: high enough that nothing is refused.
 * Limited runs: 200 an hour per client, so only the flooding client (a fixed share of the
 * requests) is refused.
 */
export function limits(limited) {
  return { max: limited ? 200 : 1_000_000_000, windowMs: HOUR_MS, windowSeconds: HOUR_MS / 1000 };
}

/** One ioredis client per server, the same options for every contender. */
export async function redisClient(url) {
  const { Redis } = requireRoot('ioredis');
  const client = new Redis(url, { enableAutoPipelining: true, lazyConnect: true });
  await client.connect();
  return client;
}

/** A span exporter that counts and drops: the batch processor's work is paid, not the network's. */
export function countingExporter(stats) {
  stats.spansExported = 0;
  return {
    export(spans, done) {
      stats.spansExported += spans.length;
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
  };
}

/**
 * OpenTelemetry's own way: a NodeTracerProvider (the SDK tollgate uses) with a batch processor
 * and the counting exporter, then the instrumentations, registered before the framework loads.
 */
export async function setupOtel(stats, makeInstrumentations) {
  const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(countingExporter(stats))] });
  provider.register();
  const instrumentations = await makeInstrumentations(provider);
  registerInstrumentations({ tracerProvider: provider, instrumentations });
  stats.flush = () => provider.forceFlush();
  return provider;
}

/** tollgate's tracing: setupTelemetry at 100% sampling into a batch processor, counted, not sent. */
export async function setupTollgateTracing(stats) {
  const { setupTelemetry } = await import('@tollgate/otel');
  const handle = setupTelemetry({ serviceName: 'tollgate-bench', sampleRatio: 1, exporter: countingExporter(stats) });
  stats.flush = () => handle.forceFlush();
}
