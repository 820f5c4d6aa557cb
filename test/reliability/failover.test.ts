import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RedisStore, register } from '@tollgate/core';
import { rateLimit } from '@tollgate/express';
import express from 'express';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script shared with .ci/run, without type declarations.
import { start as startCluster, stop as stopCluster } from '../../scripts/redis-cluster.mjs';
import { listen } from '../helpers/http.js';
import { redis } from '../helpers/redis.js';
import { clusterOf, collectingLogger, masterOwning, redisPid, replicasInSync, report, sleep } from './support.js';

/**
 * Failover under load. A cluster of its own (killing a node of the shared one would break the
 * suites running beside this one), an Express app on it with `failMode: 'local'` and a 300 ms
 * store timeout, and steady traffic. The master owning the hot key is SIGKILLed; its replica is
 * promoted after cluster-node-timeout (2 s). Meanwhile every request completes without a 5xx,
 * answered by the fallback; after the promotion the same app, with the same ioredis client, is
 * exact again: a reset key admits exactly its limit.
 */

const TIMEOUT_MS = 300;
/** For the printed count of slow requests only: nothing is asserted on time. */
const MARGIN_MS = 200;
/** Ten years: the hot bucket refills by a thousandth of a token during the test. */
const TEN_YEARS_MS = 10 * 365 * 86_400_000;
const HOT_CAPACITY = 1_000_000;
const EXACT_MAX = 20;

type Outcomes = Record<'allowed' | 'limited' | 'store_error' | 'fallback', number>;

async function decisions(limiter: string): Promise<Outcomes> {
  const metric = register.getSingleMetric('tollgate_ratelimit_decisions_total');
  const out: Outcomes = { allowed: 0, limited: 0, store_error: 0, fallback: 0 };
  if (metric === undefined) return out;
  for (const v of (await metric.get()).values) {
    if (v.labels.limiter !== limiter) continue;
    if (v.labels.source === 'local' || v.labels.source === 'open') out.fallback += v.value;
    else out[v.labels.outcome as 'allowed' | 'limited' | 'store_error'] += v.value;
  }
  return out;
}

interface Sample {
  route: string;
  at: number;
  latencyMs: number;
  status: number;
  error?: string;
}

describe.skipIf(!redis.server || !redis.binary)('Redis Cluster failover under steady load', () => {
  let cluster: { dir: string; nodes: string[] } | undefined;
  const clients: { quit(): Promise<unknown>; disconnect(): void }[] = [];

  beforeAll(async () => {
    // scripts/redis-cluster.mjs takes the first free block of ports from 30000 up; a cluster
    // started at the same moment elsewhere on the host (another test run's global setup) can
    // take some of the same ports. Then some of "our" nodes are someone else's processes, and
    // they vanish when that run ends. Check that every node is one we started; else retry.
    for (let attempt = 1; ; attempt++) {
      const started = (await startCluster()) as { dir: string; nodes: string[] };
      const ours = new Set(readFileSync(join(started.dir, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number));
      let owned = false;
      try {
        owned = started.nodes.every((n) => ours.has(redisPid(Number(n.split(':')[1]))));
        if (owned) await replicasInSync(started.nodes);
      } catch {
        owned = false;
      }
      if (owned) {
        cluster = started;
        return;
      }
      stopCluster(started.dir);
      if (attempt === 3) throw new Error('could not start a Redis Cluster of our own');
      await sleep(1000 + Math.random() * 2000);
    }
  }, 90_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    if (cluster) stopCluster(cluster.dir);
  });

  it('kill the master of the hot key: no hang, no 5xx, fallback during the gap, exact after promotion', async () => {
    const nodes = (cluster as { nodes: string[] }).nodes;
    const client: Cluster = await clusterOf(nodes);
    clients.push(client);
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    const store = new RedisStore({ client });
    const run = Math.random().toString(36).slice(2, 8);
    const names = { hot: `fo-hot-${run}`, cold: `fo-cold-${run}`, exact: `fo-exact-${run}` };
    const log = collectingLogger();
    const common = { store, failMode: 'local', timeoutMs: TIMEOUT_MS, logger: log.logger } as const;
    const hot = rateLimit({ ...common, name: names.hot, max: HOT_CAPACITY, window: TEN_YEARS_MS, key: () => 'hot' });
    const cold = rateLimit({
      ...common,
      name: names.cold,
      max: HOT_CAPACITY,
      window: TEN_YEARS_MS,
      key: (req) => String(req.query.k),
    });
    const exact = rateLimit({
      ...common,
      name: names.exact,
      max: EXACT_MAX,
      window: '1h',
      key: (req) => String(req.query.k),
    });
    const app = express();
    const ok = (_req: express.Request, res: express.Response) => {
      res.json({ ok: true });
    };
    app.get('/hot', hot, ok);
    app.get('/cold', cold, ok);
    app.get('/exact', exact, ok);
    const server = await listen(app);

    try {
      // The hot key's master, a key of the exact limiter on the same master, a cold key elsewhere.
      const hotKey = hot.limiter.keyFor('hot');
      const victim = await masterOwning(client, hotKey);
      let exactKey = '';
      let coldKey = '';
      for (let i = 0; exactKey === '' || coldKey === ''; i++) {
        const candidate = `client-${i}`;
        if (exactKey === '' && (await masterOwning(client, exact.limiter.keyFor(candidate))) === victim) {
          exactKey = candidate;
        }
        if (coldKey === '' && (await masterOwning(client, cold.limiter.keyFor(candidate))) !== victim) {
          coldKey = candidate;
        }
      }
      const victimPort = Number(victim.split(':')[1]);
      const survivor = nodes.find((n) => n !== victim && !n.endsWith(`:${victimPort}`)) as string;
      const watcher = new Redis({ host: '127.0.0.1', port: Number(survivor.split(':')[1]) });
      clients.push(watcher);
      const hotSlot = Number(await client.cluster('KEYSLOT', hotKey));

      // Steady load: five workers on the hot key, one on a key of another master.
      const samples: Sample[] = [];
      let loading = true;
      const worker = async (route: string) => {
        while (loading) {
          const at = performance.now();
          let status = 0;
          let error: string | undefined;
          try {
            const res = await fetch(`${server.url}${route}`, { signal: AbortSignal.timeout(30_000) });
            await res.arrayBuffer();
            status = res.status;
          } catch (e) {
            error = String((e as Error).cause ?? e);
          }
          samples.push({ route, at, latencyMs: performance.now() - at, status, ...(error ? { error } : {}) });
        }
      };
      const workers = [...Array.from({ length: 5 }, () => worker('/hot')), worker(`/cold?k=${coldKey}`)];

      // Fallback decisions, sampled every 25 ms, to see when the limiter felt the failover.
      let firstFallback: number | undefined;
      let lastFallback: number | undefined;
      let lastCount = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const n = (await decisions(names.hot)).fallback;
          if (n > lastCount) {
            firstFallback ??= performance.now();
            lastFallback = performance.now();
            lastCount = n;
          }
          await sleep(25);
        }
      })();

      await sleep(1_000);
      const before = await decisions(names.hot);
      const pid = redisPid(victimPort);
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');

      // Promotion: a surviving node reports another master for the hot slot, and the cluster is ok.
      let promotedAt: number | undefined;
      for (let i = 0; i < 600 && promotedAt === undefined; i++) {
        await sleep(50);
        try {
          const owner = (await watcher.cluster('SLOTS')).find(([from, to]) => hotSlot >= from && hotSlot <= to);
          const info = String(await watcher.cluster('INFO'));
          const port = owner?.[2]?.[1];
          if (port !== undefined && port !== victimPort && info.includes('cluster_state:ok')) {
            promotedAt = performance.now();
          }
        } catch {}
      }
      expect(promotedAt, 'the replica was promoted').toBeDefined();

      // Without a restart, the app's limiter gets its answers from the store again.
      let recoveredAt: number | undefined;
      for (let i = 0; i < 600 && recoveredAt === undefined; i++) {
        if ((await exact.limiter.peek(exactKey)).source === 'store') recoveredAt = performance.now();
        else await sleep(50);
      }
      expect(recoveredAt, 'the limiter answered from the store again').toBeDefined();
      await sleep(1_000);
      loading = false;
      await Promise.all(workers);
      sampling = false;
      await sampler;

      // Exact again: a reset key admits exactly its limit out of a concurrent burst.
      await exact.limiter.reset(exactKey);
      const exactBefore = await decisions(names.exact);
      const burst = await Promise.all(
        Array.from({ length: 3 * EXACT_MAX }, async () => {
          const res = await fetch(`${server.url}/exact?k=${exactKey}`);
          await res.arrayBuffer();
          return res.status;
        }),
      );
      const exactAfter = await decisions(names.exact);

      // Data: every debit the old master acknowledged is on the promoted replica.
      const hotAfter = await decisions(names.hot);
      // The stored value: expiry, since, then the one policy's balance, as little-endian doubles.
      const tokens = ((await client.getBuffer(hotKey)) as Buffer).readDoubleLE(16);
      const debited = Math.round(HOT_CAPACITY - tokens);
      const acknowledged = hotAfter.allowed;
      const lost = Math.max(0, acknowledged - debited);

      const gapS = (((promotedAt as number) - killedAt) / 1000).toFixed(2);
      const limiterGapS =
        firstFallback === undefined ? 'none' : (((lastFallback as number) - firstFallback) / 1000).toFixed(2);
      const recoveredS = (((recoveredAt as number) - killedAt) / 1000).toFixed(2);
      const coldOutcomes = await decisions(names.cold);
      const fallbacks = hotAfter.fallback - before.fallback;
      const statuses: Record<string, number> = {};
      for (const s of samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
      const slow = samples.filter((s) => s.latencyMs > TIMEOUT_MS + MARGIN_MS);
      const maxLatencyMs = Math.max(...samples.map((s) => s.latencyMs));
      console.log(
        [
          `failover: killed master ${victim} (pid ${pid}), replica promoted after ${gapS} s`,
          `limiter answered by the fallback for ${limiterGapS} s; store answered again ${recoveredS} s after the kill`,
          `requests: ${samples.length} (${JSON.stringify(statuses)}); fallback decisions: hot key ${fallbacks}, cold key on another master ${coldOutcomes.fallback}`,
          `latency: max ${maxLatencyMs.toFixed(0)} ms; over timeoutMs + ${MARGIN_MS} ms: ${slow.length}`,
          `hot bucket: ${acknowledged} debits acknowledged, ${debited} on the promoted replica (lost ${lost}, late or repeated ${Math.max(0, debited - acknowledged)})`,
          `log lines: ${log.lines.map((l) => l.message).join(' | ')}`,
        ].join('\n'),
      );
      report({
        scenario: `failover: kill hot master (gap ${gapS} s, fallback ${fallbacks})`,
        requests: samples.length + burst.length,
        admitted: burst.filter((s) => s === 200).length,
        expected: EXACT_MAX,
        maxLatencyMs: Math.round(maxLatencyMs),
        errors: samples.filter((s) => s.error !== undefined || s.status >= 500).length,
        dataLost: lost,
        notes: `recovered ${recoveredS} s after kill; admitted/expected is the post-promotion burst`,
      });

      // Every request completed, none with a 5xx: the store's failure never reached a client.
      expect(samples.filter((s) => s.error !== undefined)).toEqual([]);
      expect(samples.filter((s) => s.status >= 500)).toEqual([]);
      expect(Object.keys(statuses)).toEqual(['200']);
      // The failover was felt, and answered by the fallback.
      expect(fallbacks).toBeGreaterThan(0);
      expect(before.fallback).toBe(0);
      // Exact again, from the store: exactly the limit out of the burst, no fallback.
      expect(burst.filter((s) => s === 200)).toHaveLength(EXACT_MAX);
      expect(burst.filter((s) => s === 429)).toHaveLength(2 * EXACT_MAX);
      expect(exactAfter.fallback).toBe(exactBefore.fallback);
      expect(exactAfter.allowed - exactBefore.allowed).toBe(EXACT_MAX);
      // No acknowledged debit was lost with the old master.
      expect(lost).toBe(0);
      expect(log.lines.some((l) => l.level === 'error')).toBe(true);
    } finally {
      await server.close();
    }
  }, 120_000);
});
