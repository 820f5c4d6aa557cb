import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * Issue 14, item 3: importing a package registers no metric family; a family appears once the
 * thing it measures exists. Fresh processes on the built packages, scraped as Prometheus would.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** The families a scrape of tollgate's registry shows after `body` ran in a fresh ESM process. */
async function familiesAfter(body: string): Promise<string[]> {
  const script = `
    const express = await import('@tollgate/express');
    await import('@tollgate/koa');
    await import('@tollgate/fastify');
    const adapter = await import('@tollgate/core/adapter');
    ${body}
    const { body: text } = await adapter.scrapeMetrics();
    const families = [...text.matchAll(/^# TYPE (\\S+) /gm)].map((m) => m[1]);
    console.log(JSON.stringify(families));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
  return (JSON.parse(stdout.trim().split('\n').at(-1) as string) as string[]).sort();
}

const RATE_LIMIT_FAMILIES = [
  'tollgate_ratelimit_circuit_state',
  'tollgate_ratelimit_circuit_transitions_total',
  'tollgate_ratelimit_decisions_total',
  'tollgate_ratelimit_evictions_total',
  'tollgate_ratelimit_store_duration_seconds',
];

describe('metric families appear when their feature is used', () => {
  it('importing every adapter and core registers none', async () => {
    expect(await familiesAfter('')).toEqual([]);
  });

  it('an app that builds a rateLimit only (and serves metrics) shows only the rate-limit families', async () => {
    const families = await familiesAfter(`
      const limit = express.rateLimit({ max: 1, window: '1m' });
      express.metricsHandler();
      const app = (await import('express')).default();
      app.use(limit);
      app.get('/', (_req, res) => res.send('ok'));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      const url = 'http://127.0.0.1:' + server.address().port + '/';
      await fetch(url);
      await fetch(url);
      server.close();`);
    expect(families).toEqual(RATE_LIMIT_FAMILIES);
  });

  it('telemetry() adds the HTTP duration, and nothing else', async () => {
    expect(await familiesAfter('express.telemetry();')).toEqual(['http_server_request_duration_seconds']);
  });
});
