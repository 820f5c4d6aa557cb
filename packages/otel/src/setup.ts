import { createRequire } from 'node:module';
import { context, ProxyTracerProvider, propagation, trace } from '@opentelemetry/api';
import type * as OtelCore from '@opentelemetry/core';
import type * as OtlpProto from '@opentelemetry/exporter-trace-otlp-proto';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type * as SdkTraceNode from '@opentelemetry/sdk-trace-node';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type * as SemConv from '@opentelemetry/semantic-conventions';
import { ErrorCodes, InvalidOptionError, TollgateError } from '@tollgate/core';
import { assertKnownOptions, assertOptionsObject } from '@tollgate/core/adapter';
import { exitOnSignals, parseShutdownSignals, parseShutdownTimeout } from './shutdown-on-signals.js';

/** Any tracer name: only asked for to see whether the global proxy has a delegate. */
const PROBE_TRACER = '@tollgate/otel';

/**
 * The OpenTelemetry SDK (about 300 modules) is loaded by the first `setupTelemetry()` call, not
 * when tollgate is imported: an app that only rate-limits, or that brings its own SDK, never
 * loads it. `require` keeps `setupTelemetry` synchronous; in Node the SDK packages resolve to
 * their CommonJS builds from `import` as well, so these are the same module instances an app
 * would get by importing them itself. (The CommonJS build gets `import.meta.url` from tsup's shims.)
 */
interface Sdk {
  core: typeof OtelCore;
  otlp: typeof OtlpProto;
  resources: typeof Resources;
  base: typeof SdkTraceBase;
  node: typeof SdkTraceNode;
  semconv: typeof SemConv;
}
let sdk: Sdk | undefined;
function loadSdk(): Sdk {
  if (sdk === undefined) {
    const load = createRequire(import.meta.url);
    sdk = {
      core: load('@opentelemetry/core'),
      otlp: load('@opentelemetry/exporter-trace-otlp-proto'),
      resources: load('@opentelemetry/resources'),
      base: load('@opentelemetry/sdk-trace-base'),
      node: load('@opentelemetry/sdk-trace-node'),
      semconv: load('@opentelemetry/semantic-conventions'),
    };
  }
  return sdk;
}

/** The options of `setupTelemetry`: a service name, and where the traces go. */
export interface TelemetryOptions {
  /** `service.name` on every span. `OTEL_SERVICE_NAME`, when set, overrides it. */
  serviceName: string;
  /** `service.version`. */
  serviceVersion?: string | undefined;
  /**
   * Base URL of an OTLP/HTTP receiver, as in `OTEL_EXPORTER_OTLP_ENDPOINT`
   * (`http://collector:4318`); `/v1/traces` is appended. Default `http://localhost:4318`.
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`, when set, override it.
   */
  otlpEndpoint?: string | undefined;
  /**
   * Jaeger's OTLP/HTTP endpoint (`http://jaeger:4318`): Jaeger ingests OTLP natively, and the
   * Jaeger Thrift exporter is deprecated and gone from the current SDK line. The same as
   * `otlpEndpoint`, under the name people look for; give one or the other.
   */
  jaegerEndpoint?: string | undefined;
  /**
   * Fraction of new traces to sample, 0 to 1 (default 1). A request that arrives with a
   * `traceparent` follows its caller's decision (a parent-based sampler).
   * `OTEL_TRACES_SAMPLER` (with `OTEL_TRACES_SAMPLER_ARG`), when set, overrides it.
   */
  sampleRatio?: number | undefined;
  /** Sends spans here (through a batch processor) instead of to OTLP: tests, or another backend. */
  exporter?: SpanExporter | undefined;
  /** Replaces the batch processor and exporter altogether, e.g. a `SimpleSpanProcessor` in tests. */
  spanProcessors?: readonly SpanProcessor[] | undefined;
  /**
   * Flush and exit on a stop signal: on the first of these signals, `shutdown()` runs (for at
   * most `shutdownTimeoutMs`), then the process exits with 128 + the signal's number (143 for
   * SIGTERM), as the signal alone would have ended it. `true` means `['SIGTERM', 'SIGINT']`;
   * `'SIGHUP'` may be listed too. Default off. A second signal during the flush gets Node's
   * default behaviour (or your own listeners). The process exits without waiting for open
   * connections: to drain a server first, write the handler yourself (see the README).
   */
  shutdownOnSignals?: boolean | readonly ('SIGTERM' | 'SIGINT' | 'SIGHUP')[] | undefined;
  /**
   * With `shutdownOnSignals`: the longest wait for the flush before exiting anyway, in
   * milliseconds. Default 5000, inside Kubernetes' default 30 s grace period.
   */
  shutdownTimeoutMs?: number | undefined;
}

/** What `setupTelemetry` returns: the provider, and how to flush and stop it. */
export interface TelemetryHandle {
  /** The registered provider; also reachable as the global one through `@opentelemetry/api`. */
  readonly tracerProvider: NodeTracerProvider;
  /** Exports the spans waiting in the batch. */
  forceFlush(): Promise<void>;
  /**
   * Exports the spans still pending, shuts the pipeline down and unregisters the global tracer
   * provider, propagator and context manager, so `setupTelemetry` may be called again.
   */
  shutdown(): Promise<void>;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'serviceName',
  'serviceVersion',
  'otlpEndpoint',
  'jaegerEndpoint',
  'sampleRatio',
  'exporter',
  'spanProcessors',
  'shutdownOnSignals',
  'shutdownTimeoutMs',
]);

/**
 * Starts OpenTelemetry tracing for the process: a `NodeTracerProvider` (SDK 2.x) with a
 * parent-based ratio sampler and a batch processor exporting OTLP over HTTP (protobuf),
 * registered as the global provider together with the W3C Trace Context and Baggage propagator
 * and an AsyncLocalStorage context manager. tollgate's spans, and any other library's that uses
 * `@opentelemetry/api`, then go to the collector.
 *
 * The standard environment variables win over the options, as OpenTelemetry specifies, so
 * operators can redirect a deployed app: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (and the exporter's other
 * `OTEL_EXPORTER_OTLP_*` settings), `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
 *
 * Throws `TOLLGATE_TELEMETRY_ALREADY_REGISTERED` if a global tracer provider exists already
 * (another `setupTelemetry`, or an app's own SDK): tollgate's helpers use whatever is global, so
 * with an SDK of your own, skip this.
 *
 * Listening to SIGTERM replaces Node's default exit, so a handler that only calls `shutdown()`
 * leaves the process running: either pass `shutdownOnSignals: true` (flush, at most
 * `shutdownTimeoutMs`, then exit 143), or write a handler that closes the server, awaits
 * `shutdown()` and exits.
 *
 * @example
 * const telemetry = setupTelemetry({ serviceName: 'checkout', jaegerEndpoint: 'http://jaeger:4318', shutdownOnSignals: true });
 */
export function setupTelemetry(options: TelemetryOptions): TelemetryHandle {
  const opts = assertOptionsObject(options, 'setupTelemetry');
  assertKnownOptions(opts, KNOWN_OPTIONS, 'setupTelemetry');
  const serviceName = nonEmptyString(opts.serviceName, 'serviceName', true) as string;
  const serviceVersion = nonEmptyString(opts.serviceVersion, 'serviceVersion', false);
  const endpoint = parseEndpoint(opts);
  const sampleRatio = parseRatio(opts.sampleRatio);
  const signals = parseShutdownSignals(opts.shutdownOnSignals);
  const shutdownTimeoutMs = parseShutdownTimeout(opts.shutdownTimeoutMs, signals);
  const { core, resources, base, node, semconv } = loadSdk();
  const spanProcessors = parsePipeline(opts, endpoint);

  if (globalProviderRegistered()) {
    throw new TollgateError(
      ErrorCodes.TELEMETRY_ALREADY_REGISTERED,
      'tollgate: a global OpenTelemetry tracer provider is already registered (an earlier setupTelemetry not shut down, or an SDK set up by the app); tollgate spans go to it, so setupTelemetry is not needed',
    );
  }

  const ours = resources.resourceFromAttributes({
    [semconv.ATTR_SERVICE_NAME]: serviceName,
    ...(serviceVersion === undefined ? {} : { [semconv.ATTR_SERVICE_VERSION]: serviceVersion }),
  });
  // Later merges win: the environment overrides the options.
  const resource = resources
    .defaultResource()
    .merge(ours)
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  // Without a sampler the SDK reads OTEL_TRACES_SAMPLER, defaulting to parentbased_always_on.
  const sampler =
    sampleRatio === undefined || core.getStringFromEnv('OTEL_TRACES_SAMPLER') !== undefined
      ? undefined
      : new base.ParentBasedSampler({ root: new base.TraceIdRatioBasedSampler(sampleRatio) });

  const provider = new node.NodeTracerProvider({
    resource,
    ...(sampler === undefined ? {} : { sampler }),
    spanProcessors: [...spanProcessors],
  });
  provider.register();

  let stopping: Promise<void> | undefined;
  let removeSignalListeners: (() => void) | undefined;
  const handle: TelemetryHandle = {
    tracerProvider: provider,
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      removeSignalListeners?.();
      stopping ??= provider.shutdown().finally(() => {
        if (isGlobalProvider(provider)) {
          trace.disable();
          propagation.disable();
          context.disable();
        }
      });
      return stopping;
    },
  };
  if (signals !== undefined) removeSignalListeners = exitOnSignals(signals, shutdownTimeoutMs, handle.shutdown);
  return handle;
}

function parsePipeline(opts: Record<string, unknown>, endpoint: string | undefined): readonly SpanProcessor[] {
  const { exporter, spanProcessors } = opts;
  const { core, otlp, base } = loadSdk();
  if (spanProcessors !== undefined) {
    if (exporter !== undefined || endpoint !== undefined) {
      throw new InvalidOptionError(
        'spanProcessors',
        spanProcessors,
        'it replaces the export pipeline, so it cannot be combined with exporter, otlpEndpoint or jaegerEndpoint',
      );
    }
    if (!Array.isArray(spanProcessors) || !spanProcessors.every(isSpanProcessor)) {
      throw new InvalidOptionError(
        'spanProcessors',
        spanProcessors,
        'accepted: an array of span processors (onStart, onEnd, forceFlush, shutdown)',
      );
    }
    return spanProcessors;
  }
  if (exporter !== undefined) {
    if (endpoint !== undefined) {
      throw new InvalidOptionError('exporter', exporter, 'it cannot be combined with otlpEndpoint or jaegerEndpoint');
    }
    if (!isSpanExporter(exporter)) {
      throw new InvalidOptionError('exporter', exporter, 'accepted: a span exporter (export, shutdown)');
    }
    return [new base.BatchSpanProcessor(exporter)];
  }
  const envEndpoint =
    core.getStringFromEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? core.getStringFromEnv('OTEL_EXPORTER_OTLP_ENDPOINT');
  // Given no url, the exporter reads the environment itself (and defaults to localhost:4318).
  const url = envEndpoint === undefined && endpoint !== undefined ? `${endpoint}/v1/traces` : undefined;
  return [new base.BatchSpanProcessor(new otlp.OTLPTraceExporter(url === undefined ? {} : { url }))];
}

/** The base URL from `otlpEndpoint` or `jaegerEndpoint`, without a trailing slash. */
function parseEndpoint(opts: Record<string, unknown>): string | undefined {
  if (opts.otlpEndpoint !== undefined && opts.jaegerEndpoint !== undefined) {
    throw new InvalidOptionError(
      'jaegerEndpoint',
      opts.jaegerEndpoint,
      'give otlpEndpoint or jaegerEndpoint, not both: Jaeger is reached through its OTLP endpoint',
    );
  }
  const option = opts.jaegerEndpoint !== undefined ? 'jaegerEndpoint' : 'otlpEndpoint';
  const value = opts[option];
  if (value === undefined) return undefined;
  const accepted = `accepted: an http(s) base URL such as http://${option === 'jaegerEndpoint' ? 'jaeger' : 'collector'}:4318 (/v1/traces is appended)`;
  if (typeof value !== 'string') throw new InvalidOptionError(option, value, accepted);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionError(option, value, accepted);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new InvalidOptionError(option, value, accepted);
  }
  const base = value.replace(/\/+$/, '');
  if (base.endsWith('/v1/traces')) throw new InvalidOptionError(option, value, accepted);
  return base;
}

function parseRatio(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidOptionError('sampleRatio', value, 'accepted: a number from 0 to 1');
  }
  return value;
}

function nonEmptyString(value: unknown, option: string, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidOptionError(option, value, `accepted: a non-empty string${required ? ' (required)' : ''}`);
  }
  return value;
}

function isSpanProcessor(value: unknown): value is SpanProcessor {
  const p = value as Partial<Record<keyof SpanProcessor, unknown>> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.onStart === 'function' &&
    typeof p.onEnd === 'function' &&
    typeof p.forceFlush === 'function' &&
    typeof p.shutdown === 'function'
  );
}

function isSpanExporter(value: unknown): value is SpanExporter {
  const e = value as Partial<Record<keyof SpanExporter, unknown>> | null;
  return typeof e === 'object' && e !== null && typeof e.export === 'function' && typeof e.shutdown === 'function';
}

/**
 * Whether the API already has a real provider behind its global proxy. The API does not expose
 * this directly; its proxy answers with a delegate's tracer only when one is set.
 */
function globalProviderRegistered(): boolean {
  const global = trace.getTracerProvider();
  if (!(global instanceof ProxyTracerProvider)) return true;
  return global.getDelegateTracer(PROBE_TRACER) !== undefined;
}

function isGlobalProvider(provider: NodeTracerProvider): boolean {
  const global = trace.getTracerProvider();
  return global instanceof ProxyTracerProvider && global.getDelegate() === provider;
}
