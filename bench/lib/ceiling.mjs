// What Redis itself can do: `redis-benchmark` (pinned to core 0, Redis on core 1) running
// tollgate's own bucket script with the arguments RedisStore really sends, and the reference
// HMGET/HSET token-bucket script of the Python prototype, unpipelined and 16 deep, on one hot key
// and on 100k keys. Redis CPU per call comes from /proc/<redis pid>/stat and INFO commandstats.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireRoot } from '../http/common.mjs';
import { collectOutput } from './child-output.mjs';
import { cpuMicros, pinning, ROOT } from './env.mjs';

/** The prototype's script (HMSET written HSET), the reference the issue measures against. */
export const REFERENCE_SCRIPT = `
local key = KEYS[1]
local max_tokens = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local refill_rate = max_tokens / window
local bucket = redis.call('HMGET', key, 'tokens', 'last_refill')
local tokens = tonumber(bucket[1]) or max_tokens
local last_refill = tonumber(bucket[2]) or now
local time_passed = now - last_refill
local tokens_to_add = time_passed * refill_rate
tokens = math.min(max_tokens, tokens + tokens_to_add)
if tokens >= 1 then
  tokens = tokens - 1
  redis.call('HSET', key, 'tokens', tokens, 'last_refill', now)
  redis.call('EXPIRE', key, window * 2)
  return {1, tokens}
else
  local retry_after = math.ceil((1 - tokens) / refill_rate)
  return {0, retry_after}
end
`;

/** tollgate's script text, read from its source at run time (it is not exported). */
export function tollgateScript() {
  const source = readFileSync(join(ROOT, 'packages', 'core', 'src', 'stores', 'redis-script.ts'), 'utf8');
  const match = /export const BUCKET_SCRIPT\s*=\s*`([\s\S]*?)`;/.exec(source);
  if (match === null) throw new Error('BUCKET_SCRIPT not found in packages/core/src/stores/redis-script.ts');
  // The one-decision script is its key line and the shared decision body (DECISION), kept apart
  // since the batch script runs the same body (issue 18).
  const decision = /const DECISION\s*=\s*`([\s\S]*?)`;/.exec(source);
  if (decision === null) throw new Error('DECISION not found in packages/core/src/stores/redis-script.ts');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder as the TypeScript source spells it
  return match[1].replace('${DECISION}', decision[1]);
}

/**
 * The EVALSHA arguments tollgate's RedisStore sends for a steady-state decision of a limiter
 * allowing everything: the third call through a real client (the first calls of a store also
 * read the server's clock, which later calls estimate), recorded on the way out.
 */
async function tollgateCall(redis) {
  const { RateLimiter, RedisStore } = await import('@tollgate/core');
  const { Redis } = requireRoot('ioredis');
  const client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
  const sent = [];
  const recording = new Proxy(client, {
    get(target, name) {
      const value = Reflect.get(target, name);
      if (name !== 'evalsha' || typeof value !== 'function')
        return typeof value === 'function' ? value.bind(target) : value;
      return (...args) => {
        sent.push(args);
        return value.apply(target, args);
      };
    },
  });
  const store = new RedisStore({ client: recording });
  const limiter = new RateLimiter({ max: 1_000_000_000, window: '1h', store });
  for (let i = 0; i < 3; i++) await limiter.consume('10.0.0.1');
  await store.close?.();
  await client.quit();
  const [sha, numKeys, key, ...argv] = sent[sent.length - 1];
  return { sha, numKeys, key, argv: argv.map(String) };
}

async function run(cmd, args) {
  const { code, out, err } = await collectOutput(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  if (code !== 0) throw new Error(`${cmd} exit ${code}: ${err}`);
  return out;
}

function commandStat(info, name) {
  const m = new RegExp(`cmdstat_${name}:calls=(\\d+),usec=(\\d+)`).exec(info);
  return m === null ? { calls: 0, usec: 0 } : { calls: Number(m[1]), usec: Number(m[2]) };
}

async function benchmark(redis, { requests, pipeline, randomKeys, command }) {
  await redis.admin.flushall();
  await redis.admin.config('RESETSTAT');
  const cpuBefore = redis.pid ? cpuMicros(redis.pid) : undefined;
  const args = ['-h', redis.host, '-p', String(redis.port), '-n', String(requests), '-c', '50', '-P', String(pipeline)];
  if (randomKeys) args.push('-r', String(randomKeys));
  args.push('--csv', ...command);
  const [cmd, wrapped] = pinning.wrap(0, 'redis-benchmark', args);
  const out = await run(cmd, wrapped);
  const cpu = redis.pid ? cpuMicros(redis.pid) - cpuBefore : undefined;
  // --csv: a header line, then "name","rps",…
  const row = out
    .trim()
    .split('\n')
    .map((l) => l.split(',').map((c) => c.replace(/"/g, '')))
    .find((cells) => Number.isFinite(Number(cells[1])) && cells[1] !== '');
  const perSecond = Number(row?.[1]);
  const stat = commandStat(await redis.admin.info('commandstats'), 'evalsha');
  return {
    perSecond,
    redisCpuUsPerCall: cpu === undefined ? undefined : cpu / requests,
    scriptUsPerCall: stat.calls > 0 ? stat.usec / stat.calls : undefined,
    calls: stat.calls,
  };
}

export async function runCeiling(redis, { requests }) {
  const text = tollgateScript();
  const sha = createHash('sha1').update(text).digest('hex');
  const loaded = await redis.admin.script('LOAD', text);
  const call = await tollgateCall(redis);
  const referenceSha = await redis.admin.script('LOAD', REFERENCE_SCRIPT);
  const now = String(Math.floor(Date.now() / 1000));
  const result = {
    scriptSha: sha,
    scriptMatchesStore: loaded === sha && call.sha === sha,
    tollgateArgs: [call.key, ...call.argv],
    runs: [],
  };
  const prefix = call.key.slice(0, call.key.lastIndexOf(':') + 1);
  for (const script of ['tollgate', 'reference']) {
    for (const keys of [1, 100_000]) {
      for (const pipeline of [1, 16]) {
        const key = keys === 1 ? `${prefix}hot` : `${prefix}__rand_int__`;
        const command =
          script === 'tollgate'
            ? ['EVALSHA', sha, '1', key, ...call.argv]
            : ['EVALSHA', referenceSha, '1', key, '1000000000', '3600', now];
        // Scripts are cached by SHA; FLUSHALL keeps them.
        const r = await benchmark(redis, { requests, pipeline, randomKeys: keys === 1 ? 0 : keys, command });
        result.runs.push({ script, keys, pipeline, ...r });
      }
    }
  }
  return result;
}
