#!/usr/bin/env node
// `npm run bench` — tollgate against the peer libraries. See bench/README.md.
//
//   node bench/run.mjs [--quick] [--only http,stores,heap,redis] [--frameworks express,koa,fastify]
//                      [--contenders a,b] [--reps N] [--seconds S] [--warmup S]
//                      [--loader wrk|autocannon] [--profile SPEC]… [--profile-failures]
//
// SPEC: http:<framework>:<contender>[:limited] | store:<store>:<keys>
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCeiling } from './lib/ceiling.mjs';
import { collectOutput } from './lib/child-output.mjs';
import {
  BENCH,
  cpuMicros,
  ensureBuilt,
  ensureDeps,
  ensureLoader,
  ensureRedisTools,
  machine,
  pinning,
  RESULTS,
  startRedis,
} from './lib/env.mjs';
import { frameworkNames } from './lib/frameworks.mjs';
import { LOAD, runLoad } from './lib/load.mjs';
import { FRAMEWORKS, HEAP_STORES, MEMORY_STORES, REDIS_STORES, SETTINGS, scenarios, usesRedis } from './lib/plan.mjs';
import { formatProfile, formatProfileDiff, readProfile } from './lib/profile.mjs';
import { renderReport } from './lib/report.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    frameworks: { type: 'string' },
    contenders: { type: 'string' },
    reps: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    loader: { type: 'string' },
    profile: { type: 'string', multiple: true, default: [] },
    'profile-failures': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});

if (args.help) {
  process.stdout.write(
    'node bench/run.mjs [--quick] [--only http,stores,heap,redis] [--frameworks express,koa,fastify]\n' +
      '  [--contenders a,b] [--reps N] [--seconds S] [--warmup S] [--loader wrk|autocannon]\n' +
      '  [--profile http:<framework>:<contender>[:limited] | store:<store>:<keys>]… [--profile-failures]\n',
  );
  process.exit(0);
}

const mode = args.quick ? 'quick' : 'full';
const settings = {
  ...SETTINGS[mode],
  ...(args.reps ? { reps: Number(args.reps), repsByFramework: {} } : {}),
  ...(args.seconds ? { seconds: Number(args.seconds) } : {}),
  ...(args.warmup ? { warmup: Number(args.warmup) } : {}),
};
const only = new Set(
  (args.only ?? (args.profile.length > 0 ? '' : 'http,stores,heap,redis')).split(',').filter(Boolean),
);
const frameworks = (args.frameworks ?? frameworkNames.join(',')).split(',').filter((f) => f in FRAMEWORKS);
const contenderFilter = args.contenders ? new Set(args.contenders.split(',')) : undefined;

const log = (line) => process.stderr.write(`${line}\n`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;

ensureBuilt();
ensureDeps();
const loader =
  only.has('http') || args.profile.some((p) => p.startsWith('http:')) ? ensureLoader(args.loader) : undefined;
if (!pinning.enabled) log('[bench] taskset or a second core is missing: processes are not pinned');
const tools = ensureRedisTools();
const redis = await startRedis();

const results = {
  mode,
  startedAt: new Date(started).toISOString(),
  machine: { ...machine(), redis: redis.version, loader },
  settings: { ...settings, connections: LOAD.connections, floodEvery: LOAD.floodEvery, clients: LOAD.clients },
  http: [],
  stores: [],
  heap: [],
  ceiling: undefined,
  roundTrips: undefined,
  profiles: [],
};

const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

function spawnNode(core, nodeArgs, env) {
  const [cmd, argv] = pinning.wrap(core, process.execPath, nodeArgs);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.on('close', () => children.delete(child));
  return child;
}

/** Runs a node script to its end and returns the JSON after its `RESULT ` line. */
async function runNodeScript(core, nodeArgs) {
  const { code, out, err } = await collectOutput(spawnNode(core, nodeArgs));
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || line === undefined) throw new Error(`${nodeArgs.join(' ')} failed (${code}): ${err}`);
  return JSON.parse(line.slice('RESULT '.length));
}

/** A server process, pinned to core 0: resolves { child, port } once it listens. */
function startServer(scenario, nodeFlags = []) {
  const config = { ...scenario, redisUrl: redis.url };
  const child = spawnNode(0, [...nodeFlags, join(BENCH, 'http', 'server.mjs'), JSON.stringify(config)], {
    NODE_ENV: 'production',
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${err}`));
    });
  });
  const stopped = new Promise((resolve) => {
    child.on('close', () => {
      const line = out.split('\n').find((l) => l.startsWith('STATS '));
      resolve({ stats: line ? JSON.parse(line.slice('STATS '.length)) : undefined, stderr: err });
    });
  });
  return {
    child,
    ready,
    stop() {
      child.kill('SIGTERM');
      return stopped;
    },
  };
}

async function probe(url, limited) {
  const res = await fetch(url, { headers: limited ? { 'x-forwarded-for': '10.9.9.9' } : {} });
  await res.arrayBuffer();
  return { status: res.status, rateLimitHeader: [...res.headers.keys()].some((h) => /ratelimit/i.test(h)) };
}

/** One fresh server, warmed up, then measured: requests, throughput, server CPU per request. */
async function httpRun(scenario) {
  if (usesRedis(scenario.contender)) await redis.admin.flushall();
  const server = startServer(scenario);
  try {
    const port = await server.ready;
    const pid = server.child.pid; // taskset execs node: the same process
    const url = `http://127.0.0.1:${port}/hello`;
    const pattern = scenario.limited ? 'xff' : 'plain';
    const first = await probe(url, scenario.limited);
    await runLoad(loader, { url, seconds: settings.warmup, pattern });
    const before = cpuMicros(pid);
    const load = await runLoad(loader, { url, seconds: settings.seconds, pattern });
    const cpu = cpuMicros(pid) - before;
    const { stats, stderr } = await server.stop();
    return {
      ...scenario,
      requests: load.requests,
      perSecond: load.requests / (load.durationUs / 1e6),
      cpuUsPerRequest: cpu / load.requests,
      cpuUtilization: cpu / load.durationUs,
      non2xx: load.non2xx,
      deniedShare: load.non2xx / load.requests,
      errors: load.errors,
      p50Us: load.p50Us,
      p99Us: load.p99Us,
      probe: first,
      spansExported: stats?.spansExported,
      serverStderr: stderr.trim().slice(0, 500) || undefined,
    };
  } catch (error) {
    server.child.kill('SIGKILL');
    throw error;
  }
}

async function runHttp() {
  const plan = frameworks.flatMap((f) =>
    scenarios(f, { quick: args.quick }).filter((s) => !contenderFilter || contenderFilter.has(s.contender)),
  );
  const repsOf = (framework) => settings.repsByFramework?.[framework] ?? settings.reps;
  const total = plan.reduce((n, s) => n + repsOf(s.framework), 0);
  let done = 0;
  for (let rep = 0; rep < Math.max(...frameworks.map(repsOf)); rep++) {
    for (const framework of frameworks.filter((f) => rep < repsOf(f))) {
      const mine = plan.filter((s) => s.framework === framework);
      // A different order each repetition, so no contender always runs at the same moment.
      const shift = mine.length === 0 ? 0 : (rep * Math.ceil(mine.length / repsOf(framework))) % mine.length;
      for (const scenario of [...mine.slice(shift), ...mine.slice(0, shift)]) {
        const bare = await httpRun({ framework, contender: 'bare', limited: scenario.limited });
        const run = await httpRun(scenario);
        const pair = {
          rep,
          ...scenario,
          bare,
          run,
          addedUs: run.cpuUsPerRequest - bare.cpuUsPerRequest,
          ratio: run.perSecond / bare.perSecond,
        };
        results.http.push(pair);
        done++;
        const denied = scenario.limited ? `, ${(run.deniedShare * 100).toFixed(0)}% refused` : '';
        const warn =
          (!scenario.limited && run.non2xx > 0 ? ` !${run.non2xx} non-2xx` : '') +
          (run.errors > 0 ? ` !${run.errors} socket errors` : '');
        log(
          `[http ${done}/${total} ${elapsed()}] ${framework} ${scenario.contender}${scenario.limited ? ' (limited)' : ''}: ` +
            `bare ${bare.cpuUsPerRequest.toFixed(1)} µs/req ${(bare.perSecond / 1000).toFixed(1)}k/s, ` +
            `+${pair.addedUs.toFixed(1)} µs/req, ${pair.ratio.toFixed(2)}× throughput, p99 ${(run.p99Us / 1000).toFixed(1)} ms${denied}${warn}`,
        );
      }
    }
  }
}

async function runStores() {
  const cases = [
    ...MEMORY_STORES.flatMap((store) => [1, 100_000].map((keys) => ({ store, keys, inflight: 1 }))),
    ...REDIS_STORES.flatMap((store) => [1, 100_000].map((keys) => ({ store, keys, inflight: 256 }))),
  ].filter((c) => !contenderFilter || contenderFilter.has(c.store));
  for (let rep = 0; rep < settings.storeReps; rep++) {
    for (const c of cases) {
      if (c.inflight > 1) await redis.admin.flushall();
      const r = await runNodeScript(0, [
        join(BENCH, 'inproc', 'stores.mjs'),
        JSON.stringify({
          ...c,
          seconds: settings.storeSeconds,
          warmupSeconds: settings.storeWarmup,
          redisUrl: redis.url,
          redisPid: c.inflight > 1 ? redis.pid : undefined,
        }),
      ]);
      results.stores.push({ rep, ...r });
      const redisCpu = r.redisCpuUsPerDecision === undefined ? '' : `, Redis ${r.redisCpuUsPerDecision.toFixed(1)} µs`;
      log(
        `[stores ${elapsed()}] ${c.store} keys=${c.keys} in-flight=${c.inflight}: ${(r.perSecond / 1000).toFixed(0)}k decisions/s, ` +
          `node ${r.nodeCpuUsPerDecision.toFixed(2)} µs${redisCpu}`,
      );
    }
  }
}

async function runHeap() {
  for (const store of HEAP_STORES.filter((s) => !contenderFilter || contenderFilter.has(s))) {
    const r = await runNodeScript(0, [
      '--expose-gc',
      join(BENCH, 'inproc', 'memory.mjs'),
      JSON.stringify({ store, keys: settings.heapKeys }),
    ]);
    results.heap.push(r);
    log(
      `[heap ${elapsed()}] ${store}: ${r.bytesPerKey.toFixed(0)} B/key; after refill ` +
        `${((r.refill.returnedShare ?? 0) * 100).toFixed(0)}% returned (${r.refill.heldAfter} keys held)`,
    );
  }
}

async function runRedisChecks() {
  if (!tools.redisBenchmark) log('[bench] redis-benchmark not found: no Redis ceiling');
  else results.ceiling = await runCeiling(redis, { requests: settings.ceilingRequests });
  for (const r of results.ceiling?.runs ?? []) {
    log(
      `[redis ${elapsed()}] redis-benchmark ${r.script} keys=${r.keys} -P ${r.pipeline}: ${(r.perSecond / 1000).toFixed(0)}k/s, ` +
        `Redis CPU ${r.redisCpuUsPerCall?.toFixed(1)} µs/call, script ${r.scriptUsPerCall?.toFixed(1)} µs/call`,
    );
  }
  await redis.admin.flushall();
  results.roundTrips = await runNodeScript(0, [
    join(BENCH, 'inproc', 'redis-roundtrips.mjs'),
    JSON.stringify({ redisUrl: redis.url, decisions: 1000 }),
  ]);
  const rt = results.roundTrips;
  log(
    `[redis ${elapsed()}] round trips per decision: single ${rt.single.perDecision}, multi-policy ${rt.multi.perDecision}, ` +
      `refused flood ${rt.denied.perDecision}`,
  );
}

/** Runs a server under --cpu-prof for the whole load, and returns { file, requests }. */
async function profiledServer(scenario, dir, name) {
  const flags = ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`];
  if (usesRedis(scenario.contender)) await redis.admin.flushall();
  const server = startServer(scenario, flags);
  const port = await server.ready;
  const load = await runLoad(loader, {
    url: `http://127.0.0.1:${port}/hello`,
    seconds: settings.warmup + Math.max(3, settings.seconds * 2),
    pattern: scenario.limited ? 'xff' : 'plain',
  });
  await server.stop();
  return { file: join(dir, `${name}.cpuprofile`), requests: load.requests };
}

/**
 * Profiles one scenario with --cpu-prof and prints where the time goes: for HTTP, what the
 * contender adds per request over a bare server profiled under the same load.
 */
async function profile(spec) {
  const dir = join(RESULTS, 'profiles');
  mkdirSync(dir, { recursive: true });
  const name = spec.replace(/[^A-Za-z0-9_.-]+/g, '_');
  const [kind, a, b, c] = spec.split(':');
  let text;
  let file;
  if (kind === 'http') {
    const scenario = { framework: a, contender: b, limited: c === 'limited' };
    const bare = await profiledServer({ ...scenario, contender: 'bare' }, dir, `${name}.bare`);
    const run = await profiledServer(scenario, dir, name);
    file = run.file;
    text = formatProfileDiff(readProfile(bare.file), bare.requests, readProfile(run.file), run.requests);
  } else if (kind === 'store') {
    if (REDIS_STORES.includes(a)) await redis.admin.flushall();
    file = join(dir, `${name}.cpuprofile`);
    await runNodeScript(0, [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${name}.cpuprofile`,
      join(BENCH, 'inproc', 'stores.mjs'),
      JSON.stringify({
        store: a,
        keys: Number(b ?? 1),
        inflight: REDIS_STORES.includes(a) ? 256 : 1,
        seconds: 3,
        warmupSeconds: 1,
        redisUrl: redis.url,
      }),
    ]);
    text = formatProfile(readProfile(file));
  } else {
    throw new Error(`--profile ${spec}: expected http:<framework>:<contender>[:limited] or store:<store>:<keys>`);
  }
  results.profiles.push({ spec, file, text });
  const out = `profile ${spec} (${file})\n${text}\n`;
  writeFileSync(join(dir, `${name}.txt`), out);
  process.stdout.write(`\n${out}`);
}

try {
  if (only.has('http')) await runHttp();
  if (only.has('stores')) await runStores();
  if (only.has('heap')) await runHeap();
  if (only.has('redis')) await runRedisChecks();
  const report = renderReport(results);
  results.targets = report.targets;
  results.finishedAt = new Date().toISOString();
  results.durationSeconds = (Date.now() - started) / 1000;
  if (only.size > 0) process.stdout.write(`\n${report.text}\n`);
  for (const spec of args.profile) await profile(spec);
  if (args['profile-failures']) {
    for (const t of report.targets.filter((x) => x.met === false && x.profile)) await profile(t.profile);
  }
  mkdirSync(RESULTS, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const file = join(RESULTS, `${stamp}-${mode}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  // latest.* are the last complete run's (no part, framework or contender left out).
  if (!args.only && !args.frameworks && !args.contenders && args.profile.length === 0) {
    writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(RESULTS, 'latest.md'), `${report.markdown}\n`);
  }
  log(`[bench] done in ${elapsed()}; results: ${file}`);
} finally {
  await redis.stop();
}
