// `npm run demo`: starts the Express example, fires a burst of 15 requests at a limit of
// 10 per minute, and prints what a client sees.
import { createApp } from './app.js';

const { app, store, limiter } = createApp();
// A Redis bucket outlives the demo; start every run from a full one.
await limiter.reset('127.0.0.1');
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const url = `http://127.0.0.1:${server.address().port}/hello`;

console.log(
  `tollgate demo: Express, 10 requests per minute per IP, ${store ? `Redis at ${process.env.REDIS_URL}` : 'in-memory store'}`,
);
console.log(`firing 15 requests at ${url}\n`);

let allowed = 0;
let firstRefusal;
for (let i = 1; i <= 15; i++) {
  const res = await fetch(url);
  const body = await res.text();
  if (res.status === 200) allowed += 1;
  else firstRefusal ??= { res, body };
  console.log(
    `#${String(i).padStart(2)}  ${res.status}  RateLimit: ${res.headers.get('ratelimit')}` +
      (res.status === 429 ? `  Retry-After: ${res.headers.get('retry-after')}` : ''),
  );
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

server.close();
await store?.close();
