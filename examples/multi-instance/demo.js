// Two app processes behind one Redis share one limit. Starts two instances of app.js, fires
// requests at them in turn (A, B, A, B, …) from one client, and prints what each answered and
// how many were admitted in all: the limit of one instance, not two.
//
//   node examples/multi-instance/demo.js                  on Redis (REDIS_URL, default redis://127.0.0.1:6379)
//   node examples/multi-instance/demo.js --store memory   each instance alone: twice the limit gets through
//   --requests N                                          requests to fire (default 30)
// Exits 1 if the total admitted is not what the store promises.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RateLimiter, RedisStore } from '@tollgate/express';
import { policy } from './app.js';

const { values } = parseArgs({
  options: { store: { type: 'string', default: 'redis' }, requests: { type: 'string', default: '30' } },
});
if (values.store !== 'redis' && values.store !== 'memory') {
  console.error(`unknown --store ${JSON.stringify(values.store)}; choose redis or memory`);
  process.exit(2);
}
const requests = Number(values.requests);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const onRedis = values.store === 'redis';
const app = fileURLToPath(new URL('./app.js', import.meta.url));

/** Starts one instance and resolves to its URL once it prints it. */
function startInstance(name) {
  const child = spawn(process.execPath, [app], {
    env: { ...process.env, PORT: '0', INSTANCE: name, STORE: values.store, REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (\S+)/.exec(out);
      if (match) resolve({ name, url: match[1], child });
    });
    child.once('exit', (code) => reject(new Error(`instance ${name} exited with ${code} before listening`)));
  });
}

// A bucket left in Redis by an earlier run would skew the count: start from a full one. A limiter
// with the same name and policy on the same Redis addresses the same key, as each instance does.
if (onRedis) {
  const store = new RedisStore({ url: redisUrl });
  await new RateLimiter({ ...policy, store }).reset('127.0.0.1');
  await store.close();
}

const instances = await Promise.all([startInstance('A'), startInstance('B')]);
try {
  console.log(
    `two instances of examples/multi-instance/app.js, ${policy.max} requests per minute per client IP, ` +
      (onRedis ? `on one Redis at ${redisUrl}` : 'each on its own in-memory store'),
  );
  for (const { name, url } of instances) console.log(`  instance ${name}: ${url}`);
  console.log(`firing ${requests} requests from one client, alternating A, B, A, B, …\n`);

  const admitted = { A: 0, B: 0 };
  for (let i = 0; i < requests; i++) {
    const { name, url } = instances[i % 2];
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status === 200) admitted[name] += 1;
    const line = `#${String(i + 1).padStart(2)}  ${name}  ${res.status}  RateLimit: ${res.headers.get('ratelimit')}`;
    console.log(res.status === 429 ? `${line}  Retry-After: ${res.headers.get('retry-after')}` : line);
  }

  const total = admitted.A + admitted.B;
  const expected = onRedis ? policy.max : policy.max * 2;
  console.log(
    `\nadmitted ${total} of ${requests} (A: ${admitted.A}, B: ${admitted.B}); the limit is ${policy.max} per minute`,
  );
  if (onRedis) {
    console.log(
      total === expected
        ? `total admitted equals the single limit of ${policy.max}: both instances drew on one bucket in Redis`
        : `UNEXPECTED: ${total} admitted, not ${expected}`,
    );
  } else {
    console.log(
      total === expected
        ? `each instance admitted its own ${policy.max}: without a shared store a fleet of N allows N times the limit`
        : `UNEXPECTED: ${total} admitted, not ${expected}`,
    );
  }
  process.exitCode = total === expected ? 0 : 1;
} finally {
  await Promise.all(
    instances.map(
      ({ child }) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
}
