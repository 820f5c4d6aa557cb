import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * Issue 14, item 1: an app that already runs the OpenTelemetry SDK gets tollgate's spans with no
 * tollgate setup at all (no @tollgate/otel, no setupTelemetry). A real app process on the built
 * packages, a real Express server, the real SDK: `@opentelemetry/sdk-node`'s NodeSDK, or a
 * NodeTracerProvider the app registers itself.
 */
const APP = fileURLToPath(new URL('./fixtures/own-sdk-app.mjs', import.meta.url));
const run = promisify(execFile);

interface SeenSpan {
  name: string;
  scope: string;
  traceId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

async function runApp(sdk: 'sdk-node' | 'provider'): Promise<{ statuses: number[]; spans: SeenSpan[] }> {
  // The test runner's OTEL_* settings would change what the app's SDK does.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OTEL_')));
  const { stdout } = await run(process.execPath, [APP], { env: { ...env, SDK: sdk }, timeout: 30_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string);
}

describe("an app's own OpenTelemetry SDK gets tollgate's spans with no tollgate setup", () => {
  for (const sdk of ['sdk-node', 'provider'] as const) {
    it(
      sdk === 'sdk-node' ? '@opentelemetry/sdk-node (NodeSDK)' : 'a NodeTracerProvider registered by the app',
      async () => {
        const { statuses, spans } = await runApp(sdk);
        expect(statuses).toEqual([200, 429]);
        const servers = spans.filter((s) => s.name === 'GET /hello');
        expect(servers).toHaveLength(2);
        const [allowed, refused] = servers as [SeenSpan, SeenSpan];
        // The incoming traceparent is continued: same trace, the caller's span as parent.
        expect(allowed.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
        expect(allowed.parentSpanId).toBe('00f067aa0ba902b7');
        expect(allowed.scope).toBe('@tollgate/core');
        expect(allowed.attributes).toMatchObject({
          'http.route': '/hello',
          'http.response.status_code': 200,
          'tollgate.ratelimit.limiter': 'own-sdk',
          'tollgate.ratelimit.outcome': 'allowed',
        });
        expect(refused.attributes).toMatchObject({
          'http.response.status_code': 429,
          'tollgate.ratelimit.outcome': 'limited',
        });
        // traceSpan() inside the handler is a child of the request's span.
        const greet = spans.find((s) => s.name === 'greet');
        expect(greet?.traceId).toBe(allowed.traceId);
        expect(greet?.attributes).toEqual({ 'app.greeting': 'hello' });
      },
    );
  }
});
