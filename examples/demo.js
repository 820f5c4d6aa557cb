// `npm run demo [-- --framework express|koa|fastify]`: starts that example app, fires a burst of
// 15 requests at its limit of 10 per minute, and prints what a client sees. The frameworks are
// the ones in frameworks.json at the root, each with its example's directory.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { RateLimiter } from '@tollgate/core';

const { values } = parseArgs({ options: { framework: { type: 'string', default: 'express' } } });
const { frameworks } = JSON.parse(readFileSync(new URL('../frameworks.json', import.meta.url), 'utf8'));
const chosen = frameworks.find((f) => f.name === values.framework);
if (chosen === undefined) {
  const names = frameworks.map((f) => f.name).join(', ');
  console.error(`unknown --framework ${JSON.stringify(values.framework)}; choose one of ${names}`);
  process.exit(2);
}

const { start, policy } = await import(new URL(`../${chosen.example}/app.js`, import.meta.url).href);
const { url, store, close } = await start();
// A Redis bucket outlives the demo: start every run from a full one. A limiter with the same
// name and policy on the same store addresses the same bucket, as another instance would.
// If Redis is away, the reset fails within the limiter's timeoutMs with a coded error; the app's
// limiter then answers from its local fallback (failMode 'local'), so the demo still runs.
try {
  await new RateLimiter({ ...policy, ...(store ? { store } : {}) }).reset('127.0.0.1');
} catch (error) {
  console.log(`could not reset the demo's bucket (${error.code}): ${error.message}\n`);
}

const where = store ? `Redis at ${process.env.REDIS_URL}` : 'the in-memory store';
console.log(`tollgate demo: ${values.framework}, 10 requests per minute per IP, on ${where}`);
console.log(`firing 15 requests at ${url}\n`);

let allowed = 0;
let firstRefusal;
for (let i = 1; i <= 15; i++) {
  const res = await fetch(url);
  const body = await res.text();
  if (res.status === 200) allowed += 1;
  else firstRefusal ??= { res, body };
  const retry = res.status === 429 ? `  Retry-After: ${res.headers.get('retry-after')}` : '';
  console.log(`#${String(i).padStart(2)}  ${res.status}  RateLimit: ${res.headers.get('ratelimit')}${retry}`);
}

console.log(`\n${allowed} allowed, ${15 - allowed} refused with 429`);
if (firstRefusal) {
  const { res, body } = firstRefusal;
  console.log('\nthe first 429 in full:');
  console.log(`  HTTP ${res.status}`);
  for (const name of ['retry-after', 'ratelimit-policy', 'ratelimit', 'content-type']) {
    console.log(`  ${name}: ${res.headers.get(name)}`);
  }
  console.log(`  ${body}`);
}
// The same requests as Prometheus sees them (tollgate's registry, served by metricsHandler()).
const metrics = await (await fetch(new URL('/metrics', url))).text();
console.log('\na slice of /metrics:');
for (const line of metrics.split('\n')) {
  if (/^tollgate_ratelimit_decisions_total|^http_server_request_duration_seconds_count/.test(line))
    console.log(`  ${line}`);
}
await close();
