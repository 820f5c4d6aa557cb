import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '@tollgate/core';
import { setupTelemetry } from '@tollgate/otel';
import { afterEach, describe, expect, it } from 'vitest';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';

/**
 * Issue 12, item 1: `process.on('SIGTERM', () => otel.shutdown())` replaced Node's default exit,
 * so the app kept answering after SIGTERM. A real app process (the built @tollgate/core), a real
 * OTLP receiver, and a real signal: the process must flush its span and then exit.
 */
const APP = fileURLToPath(new URL('./fixtures/shutdown-app.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The OTLP exporter's own timeout: a bounded exit must come well before it. */
const EXPORTER_TIMEOUT_MS = 10_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface App {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

async function startApp(env: Record<string, string>): Promise<App> {
  // The test runner's OTEL_* settings would override the app's endpoint.
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OTEL_')));
  const child = spawn(process.execPath, [APP], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /LISTENING (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`app exited early with ${code}: ${stderr}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, stderr: () => stderr };
}

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  cleanups.push(() => r.close());
  return r;
}

/** An OTLP endpoint that accepts connections and never answers. */
async function hungCollector(): Promise<string> {
  const server: Server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Sends `signal` and waits for the process to end: how, and how long after the signal. */
async function stop(
  app: App,
  signal: NodeJS.Signals,
  boundMs: number,
): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    app.child.once('exit', (code, sig) => resolve({ code, signal: sig })),
  );
  const sentAt = performance.now();
  app.child.kill(signal);
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`still running ${boundMs} ms after ${signal}: ${app.stderr()}`)),
      boundMs,
    ).unref(),
  );
  const how = await Promise.race([exited, timeout]);
  return { ...how, ms: Math.round(performance.now() - sentAt) };
}

async function hello(app: App): Promise<void> {
  const res = await fetch(`${app.url}/hello`);
  expect(await res.text()).toBe('hello');
}

describe('setupTelemetry({ shutdownOnSignals })', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('on %s: exports the pending span, then exits with %i', async (signal, code) => {
    const otlp = await receiver();
    const app = await startApp({ OTLP_URL: otlp.url, SHUTDOWN: 'option' });
    await hello(app);
    // The batch processor exports every 5 s: only the flush on the signal can have sent it this soon.
    expect(otlp.spans()).toEqual([]);
    const stopped = await stop(app, signal, EXPORTER_TIMEOUT_MS);
    console.log(`shutdownOnSignals: ${signal} to exit in ${stopped.ms} ms, exit code ${stopped.code}`);
    expect(stopped).toMatchObject({ code, signal: null });
    expect(otlp.spans().map((s) => s.name)).toEqual(['hello']);
    expect(otlp.exports[0]?.resourceSpans[0]?.resource['service.name']).toBe('shutdown-test');
  });

  it('exits after shutdownTimeoutMs when the collector never answers', async () => {
    const app = await startApp({ OTLP_URL: await hungCollector(), SHUTDOWN: 'option', SHUTDOWN_TIMEOUT_MS: '300' });
    await hello(app);
    // Well before the exporter's own timeout would have ended the flush.
    const stopped = await stop(app, 'SIGTERM', EXPORTER_TIMEOUT_MS - 1000);
    console.log(`shutdownOnSignals with a hung collector: SIGTERM to exit in ${stopped.ms} ms (bound 300 ms)`);
    expect(stopped).toMatchObject({ code: 143, signal: null });
    expect(stopped.ms).toBeGreaterThanOrEqual(300);
    expect(app.stderr()).toContain('telemetry flush did not finish in time; exiting');
  });

  it('is validated like every other option', () => {
    for (const [options, option] of [
      [{ shutdownOnSignals: 'SIGTERM' }, 'shutdownOnSignals'],
      [{ shutdownOnSignals: [] }, 'shutdownOnSignals'],
      [{ shutdownOnSignals: ['SIGKILL'] }, 'shutdownOnSignals'],
      [{ shutdownOnSignals: true, shutdownTimeoutMs: 0 }, 'shutdownTimeoutMs'],
      [{ shutdownOnSignals: true, shutdownTimeoutMs: 1.5 }, 'shutdownTimeoutMs'],
      [{ shutdownTimeoutMs: 1000 }, 'shutdownTimeoutMs'],
    ] as const) {
      expect(() => setupTelemetry({ serviceName: 'x', ...(options as object) }), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, message: expect.stringContaining(option) }),
      );
    }
  });

  it("shutdown() removes the signal listeners, so the app's own handling is back", async () => {
    const before = process.listenerCount('SIGTERM');
    const handle = setupTelemetry({ serviceName: 'x', spanProcessors: [], shutdownOnSignals: ['SIGTERM', 'SIGHUP'] });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    expect(process.listenerCount('SIGHUP')).toBeGreaterThan(0);
    await handle.shutdown();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});

describe("the README's shutdown by hand", () => {
  // Compared line by line, with runs of spaces collapsed: READMEs align their comments.
  const normal = (text: string) => text.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
  const codeOf = (path: string) => (readFileSync(join(ROOT, path), 'utf8').match(/```[\s\S]*?```/g) ?? []).join('\n');

  it('README.md shows the handler this app runs', () => {
    const snippet = /\/\/ snippet-start.*\n([\s\S]*?)\s*\/\/ snippet-end/.exec(readFileSync(APP, 'utf8'))?.[1];
    expect(snippet).toBeDefined();
    expect(normal(codeOf('README.md')).join('\n')).toContain(normal(snippet as string).join('\n'));
  });

  it.each(['README.md', 'docs/telemetry.md'])('%s has no flush-only SIGTERM handler in its code', (path) => {
    // The prose may still name it, as the mistake it is.
    expect(codeOf(path)).not.toMatch(
      /process\.(on|once)\('SIG(TERM|INT)',\s*\(\)\s*=>\s*(void\s+)?\w+\.shutdown\(\)\)/,
    );
    expect(codeOf(path)).toMatch(/shutdown\(\)\.finally\(\(\) => process\.exit\(0\)\)/);
  });

  it('on SIGTERM: drains, exports the pending span, then exits 0', async () => {
    const otlp = await receiver();
    const app = await startApp({ OTLP_URL: otlp.url, SHUTDOWN: 'snippet' });
    await hello(app);
    expect(otlp.spans()).toEqual([]);
    const stopped = await stop(app, 'SIGTERM', EXPORTER_TIMEOUT_MS);
    console.log(`README shutdown snippet: SIGTERM to exit in ${stopped.ms} ms`);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(otlp.spans().map((s) => s.name)).toEqual(['hello']);
  });
});
