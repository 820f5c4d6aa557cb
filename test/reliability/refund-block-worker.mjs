// One app process of the multi-process refund and block runs (test/reliability/refund-block.test.ts):
// a RateLimiter on its own Redis (or Cluster) client, driven by commands on stdin, one JSON line
// of figures per command on stdout. Runs the built @tollgate/core (npm run build -w packages/core).
import { createInterface } from 'node:readline';
import { RateLimiter, RedisStore } from '@tollgate/core';
import { Cluster, Redis } from 'ioredis';

const nodes = process.env.CLUSTER_NODES;
const client = nodes
  ? new Cluster(nodes.split(',').map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })))
  : new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const store = new RedisStore({ client });
// Store round trips: calls the store answered with a promise (the denial cache answers at once).
let roundTrips = 0;
const counted = {
  consume(key, buckets, costs) {
    const result = store.consume(key, buckets, costs);
    if (result instanceof Promise) roundTrips += 1;
    return result;
  },
  adjust(key, buckets, deltas) {
    roundTrips += 1;
    return store.adjust(key, buckets, deltas);
  },
  lower(key, buckets, ceilings) {
    roundTrips += 1;
    return store.lower(key, buckets, ceilings);
  },
  peek: (key, buckets) => store.peek(key, buckets),
  reset: (key) => store.reset(key),
  isAvailable: () => store.isAvailable(),
};
const prefix = process.env.PREFIX;
const quiet = { info() {}, warn() {}, error: (f, m) => console.error(m, f) };
const refundLimiter = new RateLimiter({
  name: 'login',
  prefix,
  max: 1000,
  window: '1d',
  store: counted,
  logger: quiet,
});
const blockLimiter = new RateLimiter({
  name: 'brute',
  prefix,
  max: 5,
  window: '1s',
  store: counted,
  logger: quiet,
  block: { after: 3, within: '10s', for: process.env.BLOCK_FOR ?? '3s' },
});

async function refunds(requests) {
  // Half the requests "succeed" and are refunded (skipSuccessfulRequests); each refund is
  // attempted twice, as a response's finish and close events both report.
  let admitted = 0;
  let refused = 0;
  let refunded = 0;
  let secondRefunds = 0;
  const one = async (i) => {
    const decision = await refundLimiter.consume('shared-client');
    if (!decision.allowed) {
      refused += 1;
      return;
    }
    admitted += 1;
    if (i % 2 === 0) {
      const receipt = refundLimiter.receipt('shared-client', 1, decision);
      const [first, second] = await Promise.all([receipt.refund(), receipt.refund()]);
      if (first) refunded += 1;
      if (second) secondRefunds += 1;
    }
  };
  for (let i = 0; i < requests; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, requests - i) }, (_, j) => one(i + j)));
  }
  return { admitted, refused, refunded, secondRefunds };
}

async function hammer(key, requests) {
  const before = roundTrips;
  let admitted = 0;
  let refused = 0;
  let maxRetryAfterMs = 0;
  for (let i = 0; i < requests; i++) {
    const d = await blockLimiter.consume(key);
    if (d.allowed) admitted += 1;
    else {
      refused += 1;
      maxRetryAfterMs = Math.max(maxRetryAfterMs, d.retryAfterMs);
    }
  }
  return { admitted, refused, roundTrips: roundTrips - before, maxRetryAfterMs, cachedRefusals: store.cachedRefusals };
}

const lines = createInterface({ input: process.stdin });
console.log(JSON.stringify({ ready: true }));
for await (const line of lines) {
  const [command, a, b] = line.trim().split(' ');
  let out;
  if (command === 'refunds') out = await refunds(Number(a));
  else if (command === 'hammer') out = await hammer(a, Number(b));
  else if (command === 'reset') out = { reset: await blockLimiter.reset(a).then(() => true) };
  else if (command === 'sleep') out = await new Promise((r) => setTimeout(() => r({ slept: Number(a) }), Number(a)));
  else if (command === 'quit') break;
  console.log(JSON.stringify(out));
}
await store.close();
client.disconnect();
process.exit(0);
