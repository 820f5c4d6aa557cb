import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Decision,
  type FailMode,
  type Logger,
  type RateLimiterOptions,
  RedisStore,
  register,
} from '@tollgate/core';
import { rateLimit } from '@tollgate/express';
import express from 'express';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../helpers/http.js';
import { injectedPromtool, runPromtool } from '../helpers/promtool.js';
import { RedisProcess, redis } from '../helpers/redis.js';
import { report } from './support.js';

/**
 * The circuit breaker against a real redis-server that is paused (SIGSTOP: connections stay
 * open, nothing answers), killed and restarted, and blocked by `DEBUG SLEEP`, through a real
 * Express app. What the tests observe rather than assume:
 * - store calls, counted twice: at the ioredis client the store uses, and by the server itself
 *   (`INFO commandstats`, read once it runs again), and the two must agree;
 * - each decision's source and the circuit state it met, by wrapping the limiter's `decide`;
 * - latencies, printed and never asserted (wall-clock figures on a shared machine are not a test).
 */

const TIMEOUT_MS = 200;
const MAX = 5;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Line {
  level: string;
  message: string;
  fields: Record<string, unknown>;
  /** performance.now() when it was logged. */
  at: number;
}

function collectingLogger(): { lines: Line[]; logger: Logger } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, message: string) => {
    lines.push({ level, message, fields: fields as Record<string, unknown>, at: performance.now() });
  };
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** An ioredis client whose script calls (EVALSHA, and EVAL after NOSCRIPT) are counted as they are sent. */
function countingClient(client: Redis): { client: Redis; sent: { scripts: number } } {
  const sent = { scripts: 0 };
  const proxy = new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop === 'evalsha' || prop === 'eval') {
        return (...args: unknown[]) => {
          sent.scripts += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { client: proxy, sent };
}

/** Script calls the server has executed since its last CONFIG RESETSTAT (or start). */
async function serverScriptCalls(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
  return calls;
}

interface DecisionRecord {
  /** The circuit state when the decision started. */
  circuit: string;
  /** Answered by the fallback without trying the store, because the circuit was open. */
  short: boolean;
  source: Decision['source'];
  ms: number;
}

interface Hit {
  status: number;
  ms: number;
}

async function setup(options: {
  failMode: FailMode;
  name: string;
  circuit?: RateLimiterOptions['circuit'];
  serverArgs?: readonly string[];
}) {
  const server = await RedisProcess.start(options.serverArgs ?? []);
  cleanups.push(() => server.stop());
  const raw = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  raw.on('error', () => {});
  cleanups.push(() => raw.disconnect());
  const { client, sent } = countingClient(raw);
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  admin.on('error', () => {});
  cleanups.push(() => admin.disconnect());

  const { lines, logger } = collectingLogger();
  const store = new RedisStore({ client, logger });
  const mw = rateLimit({
    max: MAX,
    window: '1h',
    store,
    failMode: options.failMode,
    timeoutMs: TIMEOUT_MS,
    logger,
    name: options.name,
    key: (req) => req.get('x-client') ?? 'anonymous',
    ...(options.circuit === undefined ? {} : { circuit: options.circuit }),
  });
  const limiter = mw.limiter;

  // Every decision, with the circuit state it met and how long the limiter took.
  const decisions: DecisionRecord[] = [];
  // The middleware calls `decide` (synchronous when the store is), so that is what is wrapped.
  const decide = limiter.decide.bind(limiter);
  limiter.decide = (key: string, cost?: number) => {
    const circuit = limiter.circuit?.state ?? 'none';
    const shortBefore = limiter.health.shortCircuited;
    const started = performance.now();
    const pending = decide(key, cost);
    // The breaker decides synchronously, before any store call: this tells the call apart.
    const short = limiter.health.shortCircuited > shortBefore;
    const record = (decision: Decision) => {
      decisions.push({ circuit, short, source: decision.source, ms: performance.now() - started });
      return decision;
    };
    return pending instanceof Promise ? pending.then(record) : record(pending);
  };

  const app = express();
  app.use(mw);
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  const http = await listen(app);
  cleanups.push(() => http.close());

  const hits: Hit[] = [];
  const errors: string[] = [];
  const hit = async (who: string): Promise<number> => {
    const started = performance.now();
    try {
      const res = await fetch(http.url, { headers: { 'x-client': who } });
      await res.arrayBuffer();
      hits.push({ status: res.status, ms: performance.now() - started });
      return res.status;
    } catch (error) {
      errors.push(String(error));
      return 0;
    }
  };
  const fire = (n: number, who: string) => Promise.all(Array.from({ length: n }, () => hit(who)));
  const statuses = (list: number[]) => ({
    ok: list.filter((s) => s === 200).length,
    limited: list.filter((s) => s === 429).length,
    unavailable: list.filter((s) => s === 503).length,
    other: list.filter((s) => s !== 200 && s !== 429 && s !== 503).length,
  });

  /** Waits until a decision comes from the store again (the probe closed the circuit). */
  const untilClosed = async () => {
    const started = performance.now();
    for (let i = 0; i < 400; i++) {
      if ((await limiter.peek(`probe-${i}`)).source === 'store' && limiter.circuit?.state === 'closed') {
        return performance.now() - started;
      }
      await sleep(50);
    }
    throw new Error('the circuit never closed');
  };

  return {
    server,
    raw,
    client,
    sent,
    admin,
    limiter,
    lines,
    hits,
    errors,
    decisions,
    hit,
    fire,
    statuses,
    untilClosed,
  };
}

function count(lines: Line[], message: string): number {
  return lines.filter((l) => l.message === message).length;
}

function loggedAt(lines: Line[], message: string): number {
  const line = lines.find((l) => l.message === message);
  if (line === undefined) throw new Error(`nothing logged as ${message}`);
  return line.at;
}

function maxMs(values: readonly { ms: number }[]): number {
  return Math.round(values.reduce((m, v) => Math.max(m, v.ms), 0));
}

/** Missing outside CI, the promtool lint is skipped with one loud line from test/global-setup.ts. */
const { available: hasPromtool } = injectedPromtool();

async function metricLine(name: string, labels: string): Promise<string | undefined> {
  return (await register.getSingleMetricAsString(name)).split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
}

describe.skipIf(!redis.server || !redis.binary)('the circuit breaker against a real Redis', () => {
  it("a paused Redis (SIGSTOP): after 5 timeouts no store call is made; failMode 'local' answers at once; exact after resume", async () => {
    const t = await setup({ failMode: 'local', name: 'outage-paused' });
    const { limiter, sent, admin, lines, decisions } = t;

    expect(await t.fire(3, 'steady')).toEqual([200, 200, 200]);
    await admin.config('RESETSTAT');
    const sentBefore = t.sent.scripts;

    t.server.pause();
    // One at a time until the circuit opens: each of these waits timeoutMs for the hung server.
    const opening: number[] = [];
    while (limiter.circuit?.state === 'closed' && opening.length < 20) opening.push(await t.hit('opening'));
    expect(opening).toHaveLength(5);
    expect(opening).toEqual(Array(5).fill(200)); // the local bucket: 5 per hour for this client
    expect(count(lines, 'circuit opened')).toBe(1);
    expect(lines.find((l) => l.message === 'circuit opened')?.fields).toMatchObject({ failures: 5, openMs: 1000 });

    // Open: a burst, answered in-process without a store call; the local bucket still counts.
    const burst = await t.fire(8, 'burst');
    expect(t.statuses(burst)).toEqual({ ok: 5, limited: 3, unavailable: 0, other: 0 });
    expect(sent.scripts - sentBefore).toBe(5);
    // Then a trickle for 2.5 s, long enough for the first probe (after 1 s) to go out and fail.
    const trickle: number[] = [];
    for (let i = 0; i < 25; i++) {
      trickle.push(await t.hit(`trickle-${i % 5}`));
      await sleep(100);
    }
    expect(t.statuses(trickle).other).toBe(0);
    const probes = count(lines, 'circuit half-open: probing the store');
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(count(lines, 'circuit reopened')).toBeGreaterThanOrEqual(1);
    const sentWhilePaused = sent.scripts - sentBefore;
    // Only the five calls that opened the circuit, and one per probe, were sent to the store.
    expect(sentWhilePaused).toBe(5 + probes);
    // Decisions that met an open circuit all came from the fallback, at in-process speed; all
    // but the probes were answered without trying the store.
    const whileOpen = decisions.filter((d) => d.circuit === 'open');
    const shorted = decisions.filter((d) => d.short);
    expect(whileOpen.length).toBeGreaterThan(20);
    expect(whileOpen.every((d) => d.source === 'local')).toBe(true);
    expect(shorted.length).toBe(whileOpen.length - probes);
    expect(limiter.health.shortCircuited).toBe(shorted.length);

    t.server.resume();
    // On the limiter's own connection, a PING is answered after every command sent before it.
    await t.client.ping();
    // The server confirms: it executed exactly the script calls the client sent, no more.
    expect(await serverScriptCalls(admin)).toBe(sentWhilePaused);

    const recoveryMs = await t.untilClosed();
    expect(count(lines, 'circuit closed')).toBe(1);
    // Exact again: a new client gets exactly MAX from the store, and the client from before the
    // outage still has what it had left (3 of 5 taken), so nothing the store held was lost.
    const fresh = await t.fire(8, 'after');
    expect(t.statuses(fresh)).toMatchObject({ ok: MAX, limited: 3 });
    const steady = await t.fire(4, 'steady');
    expect(t.statuses(steady)).toMatchObject({ ok: 2, limited: 2 });
    expect(decisions.slice(-12).every((d) => d.source === 'store')).toBe(true);
    expect(t.errors).toEqual([]);

    expect(await metricLine('tollgate_ratelimit_circuit_state', 'limiter="outage-paused"')).toBe(
      'tollgate_ratelimit_circuit_state{limiter="outage-paused"} 0',
    );
    expect(await metricLine('tollgate_ratelimit_circuit_transitions_total', 'limiter="outage-paused",to="open"')).toBe(
      `tollgate_ratelimit_circuit_transitions_total{limiter="outage-paused",to="open"} ${1 + count(lines, 'circuit reopened')}`,
    );

    const shortMax = maxMs(shorted);
    const httpMax = maxMs(t.hits);
    console.log(
      `paused Redis, timeoutMs ${TIMEOUT_MS}: ${t.hits.length} requests; ${sentWhilePaused} store calls while paused ` +
        `(5 to open + ${probes} probe${probes === 1 ? '' : 's'}, each waiting timeoutMs); ${shorted.length} decisions ` +
        `answered by the open circuit, slowest ${shortMax} ms; slowest request overall ${httpMax} ms; ` +
        `closed ${Math.round(recoveryMs)} ms after resume`,
    );
    report({
      scenario: 'circuit: Redis paused (SIGSTOP), failMode local',
      requests: t.hits.length,
      admitted: `${t.statuses(fresh).ok} after recovery`,
      expected: MAX,
      maxLatencyMs: httpMax,
      errors: t.errors.length + t.statuses(t.hits.map((h) => h.status)).other,
      dataLost: 0,
      notes: `${sentWhilePaused} store calls while paused (server saw the same); ${shorted.length} short-circuited, slowest ${shortMax} ms`,
    });
  });

  it("a killed Redis, restarted: while the circuit stays open the running server gets no call; failMode 'open'; exact after", async () => {
    // Persisted with an fsync per write, so a SIGKILL loses nothing the store acknowledged.
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-outage-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const t = await setup({
      failMode: 'open',
      name: 'outage-killed',
      circuit: { failures: 5, minOpenMs: 4000, maxOpenMs: 8000 },
      serverArgs: ['--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always'],
    });
    const { limiter, sent, lines, decisions } = t;

    expect(await t.fire(3, 'steady')).toEqual([200, 200, 200]);
    await t.server.kill();
    const sentBefore = sent.scripts;
    const hitsBefore = t.hits.length;
    // failMode 'open' lets everything through; five failures open the circuit.
    expect(await t.fire(20, 'steady')).toEqual(Array(20).fill(200));
    for (let i = 0; i < 5 && limiter.circuit?.state === 'closed'; i++) await t.hit('steady');
    expect(limiter.circuit?.state).toBe('open');
    expect(count(lines, 'circuit opened')).toBe(1);

    await t.server.start();
    // Both connections back (ioredis retries every 50 ms), before anything is counted.
    for (let i = 0; i < 100 && (t.raw.status !== 'ready' || t.admin.status !== 'ready'); i++) await sleep(20);
    await t.admin.ping();
    await t.client.ping();
    expect(limiter.circuit?.state).toBe('open');
    expect(limiter.circuit?.msUntilProbe).toBeGreaterThan(1000);
    const serverBefore = await serverScriptCalls(t.admin);
    const sentAtRestart = sent.scripts;
    const down = t.hits.slice(hitsBefore);
    const whileOpen = await t.fire(30, 'steady');
    expect(whileOpen).toEqual(Array(30).fill(200));
    // The server is up and answering, yet the open circuit sent it nothing.
    expect(sent.scripts).toBe(sentAtRestart);
    expect(await serverScriptCalls(t.admin)).toBe(serverBefore);
    expect(limiter.circuit?.state).toBe('open');

    const recoveryMs = await t.untilClosed();
    expect(count(lines, 'circuit closed')).toBe(1);
    // Exact again, and the bucket survived the SIGKILL: 'steady' had taken 3 of 5 before it.
    const after = t.statuses(await t.fire(6, 'steady'));
    expect(after).toMatchObject({ ok: 2, limited: 4 });
    const fresh = t.statuses(await t.fire(8, 'fresh'));
    expect(fresh).toMatchObject({ ok: MAX, limited: 3 });
    const shorted = decisions.filter((d) => d.short);
    expect(shorted.length).toBeGreaterThanOrEqual(30);
    expect(shorted.every((d) => d.source === 'open')).toBe(true);
    expect(t.errors).toEqual([]);

    console.log(
      `killed Redis, failMode 'open': ${down.length} requests while it was down (${sentAtRestart - sentBefore} store ` +
        `calls: ioredis reported itself disconnected; slowest ${maxMs(down)} ms); after the restart 30 requests met the open circuit: ` +
        `0 store calls, slowest decision ${maxMs(shorted)} ms; closed ${Math.round(recoveryMs)} ms after both ` +
        `connections were back; slowest request overall ${maxMs(t.hits)} ms`,
    );
    report({
      scenario: 'circuit: Redis killed and restarted (AOF), failMode open',
      requests: t.hits.length,
      admitted: `${after.ok} + ${fresh.ok}`,
      expected: `2 + ${MAX}`,
      maxLatencyMs: maxMs(t.hits),
      errors: t.errors.length + t.statuses(t.hits.map((h) => h.status)).other,
      dataLost: 0,
      notes: `30 requests while open after the restart: 0 script calls seen by the server; the pre-outage bucket survived`,
    });
  });

  it.each(['local', 'closed'] as const)(
    "a script blocking the server (DEBUG SLEEP 1), default circuit, failMode '%s': no pile-up, exact after",
    async (failMode) => {
      const t = await setup({
        failMode,
        name: `outage-sleep-${failMode}`,
        serverArgs: ['--enable-debug-command', 'local'],
      });
      const { limiter, sent, admin, lines, decisions } = t;
      expect(await t.fire(3, 'steady')).toEqual([200, 200, 200]);
      await admin.config('RESETSTAT');
      const sentBefore = sent.scripts;

      const blocker = new Redis(t.server.url, { maxRetriesPerRequest: 1 });
      blocker.on('error', () => {});
      cleanups.push(() => blocker.disconnect());
      await blocker.ping();
      const blockedAt = performance.now();
      const slept = blocker.call('DEBUG', 'SLEEP', '1').then((reply) => ({ reply, at: performance.now() }));
      await sleep(20);
      // 1.5 s of traffic: four requests every 25 ms, from ten clients.
      const during: Promise<number>[] = [];
      for (let i = 0; i < 60; i++) {
        for (let j = 0; j < 4; j++) during.push(t.hit(`client-${(i * 4 + j) % 10}`));
        await sleep(25);
      }
      const statuses = await Promise.all(during);
      const { reply, at: wokeAt } = await slept;
      expect(reply).toBe('OK');

      await t.untilClosed();
      await t.client.ping();
      const sentDuring = sent.scripts - sentBefore;
      // Every call the client sent reached the server (after it woke up), and no others.
      const probes = count(lines, 'circuit half-open: probing the store');
      expect(await serverScriptCalls(admin)).toBe(sentDuring);

      expect(count(lines, 'circuit opened')).toBe(1);
      expect(count(lines, 'circuit closed')).toBe(1);
      const whileOpen = decisions.filter((d) => d.circuit !== 'closed');
      const shorted = decisions.filter((d) => d.short);
      expect(shorted.length).toBeGreaterThan(40);
      expect(shorted.every((d) => d.source === failMode)).toBe(true);
      expect(limiter.health.shortCircuited).toBe(shorted.length);
      // Every decision that met an open (or half-open) circuit was short-circuited, except the
      // probe, which the store answered once it woke up.
      expect(whileOpen.length - shorted.length).toBe(probes);
      expect(whileOpen.filter((d) => !d.short).every((d) => d.source === 'store')).toBe(true);
      expect(t.statuses(statuses).other).toBe(0);
      if (failMode === 'closed') expect(t.statuses(statuses).unavailable).toBeGreaterThan(40);

      const fresh = await t.fire(8, 'after');
      expect(t.statuses(fresh)).toMatchObject({ ok: MAX, limited: 3 });
      expect(t.statuses(await t.fire(3, 'steady'))).toMatchObject({ ok: 2, limited: 1 });
      expect(t.errors).toEqual([]);

      const shortMax = maxMs(shorted);
      const openedAfter = Math.round(loggedAt(lines, 'circuit opened') - blockedAt);
      const closedAfter = Math.round(loggedAt(lines, 'circuit closed') - blockedAt);
      console.log(
        `DEBUG SLEEP 1, failMode '${failMode}', timeoutMs ${TIMEOUT_MS}: ${statuses.length} requests; ` +
          `${limiter.health.failures} store calls timed out (in flight when the server blocked), then ` +
          `${shorted.length} decisions answered by the open circuit (slowest ${shortMax} ms), ${probes} probe; ` +
          `${sentDuring} store calls in all, the server executed the same; circuit opened ${openedAfter} ms and ` +
          `closed ${closedAfter} ms after the block began (the blocking reply came at ${Math.round(wokeAt - blockedAt)} ms); ` +
          `slowest request ${maxMs(t.hits)} ms`,
      );
      report({
        scenario: `circuit: DEBUG SLEEP 1, failMode ${failMode}`,
        requests: t.hits.length,
        admitted: `${t.statuses(fresh).ok} after recovery`,
        expected: MAX,
        maxLatencyMs: maxMs(t.hits),
        errors: t.errors.length + t.statuses(t.hits.map((h) => h.status)).other,
        dataLost: 0,
        notes: `${sentDuring} store calls for ${statuses.length} requests; ${shorted.length} short-circuited, slowest ${shortMax} ms`,
      });
    },
  );

  // Last, so it lints the series the outages above left in the registry.
  it.skipIf(!hasPromtool)('the metrics after these outages pass promtool check metrics', async () => {
    const body = await register.metrics();
    expect(body).toContain('# TYPE tollgate_ratelimit_circuit_transitions_total counter');
    expect(runPromtool(['check', 'metrics'], { input: body })).toEqual({ status: 0, output: '' });
  });
});
