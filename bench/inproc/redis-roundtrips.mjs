// Redis round trips per tollgate decision, counted by the server: MONITOR shows every command a
// client sends, and marks the ones a Lua script runs as coming from "lua", so those are left out.
// `node bench/inproc/redis-roundtrips.mjs '{"redisUrl":…,"decisions":1000}'`. Prints `RESULT {…}`.
//   single  one policy, `decisions` different keys, all allowed
//   multi   two policies (10/s and 1000/h), all-or-nothing, `decisions` different keys
//   denied  one client, limit 5 an hour: after its 5, `decisions` more calls, all refused
import { setTimeout as sleep } from 'node:timers/promises';
import { requireRoot } from '../http/common.mjs';

const config = JSON.parse(process.argv[2]);
const { Redis } = requireRoot('ioredis');
const { RateLimiter, RedisStore } = await import('@tollgate/core');

const client = new Redis(config.redisUrl, { enableAutoPipelining: true, lazyConnect: true });
await client.connect();
await client.client('SETNAME', 'tollgate-bench-subject');
const subjectId = String(await client.client('ID'));
const clients = await client.client('LIST');
const subjectAddr = new RegExp(`id=${subjectId} addr=(\\S+)`).exec(clients)?.[1];

const admin = new Redis(config.redisUrl);
const monitor = await admin.monitor();
let counting = false;
let counted = [];
monitor.on('monitor', (_time, args, source) => {
  if (counting && source === subjectAddr) counted.push(String(args[0]).toLowerCase());
});

async function count(fn) {
  await sleep(100);
  counted = [];
  counting = true;
  await fn();
  await sleep(300); // MONITOR lines arrive after the replies
  counting = false;
  const byCommand = {};
  for (const c of counted) byCommand[c] = (byCommand[c] ?? 0) + 1;
  return { commands: counted.length, byCommand };
}

const n = config.decisions ?? 1000;
const store = new RedisStore({ client });
const out = {};

// The script is loaded by the first call (EVALSHA, NOSCRIPT, EVAL): not counted here.
const single = new RateLimiter({ max: 1_000_000, window: '1h', store, name: 'rt-single' });
await single.consume('warm');
const s = await count(async () => {
  await Promise.all(Array.from({ length: n }, (_, i) => single.consume(`client-${i}`)));
});
out.single = { decisions: n, ...s, perDecision: s.commands / n };

const multi = new RateLimiter({
  policies: [
    { max: 10, window: '1s' },
    { max: 1000, window: '1h' },
  ],
  store,
  name: 'rt-multi',
});
await multi.consume('warm');
const m = await count(async () => {
  await Promise.all(Array.from({ length: n }, (_, i) => multi.consume(`client-${i}`)));
});
out.multi = { decisions: n, ...m, perDecision: m.commands / n };

const strict = new RateLimiter({ max: 5, window: '1h', store, name: 'rt-denied' });
// 5 allowed, then refusals: the first opens the subscription on which resets are announced;
// refusals before it is confirmed are not kept (a reset could have been missed), so the first
// refusal after it is the last one Redis answers. The flood counted below is what follows.
for (let i = 0; i < 6; i++) await strict.consume('flooder');
await sleep(100);
await strict.consume('flooder');
let refused = 0;
const d = await count(async () => {
  for (let i = 0; i < n; i++) if (!(await strict.consume('flooder')).allowed) refused++;
});
out.denied = {
  decisions: n,
  refused,
  ...d,
  perDecision: d.commands / n,
};

await monitor.disconnect();
await admin.quit();
await client.quit();
process.stdout.write(`RESULT ${JSON.stringify(out)}\n`);
process.exit(0);
