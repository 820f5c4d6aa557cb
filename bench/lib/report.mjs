// Turns the raw measurements into the tables and the list of targets, met or not.
import { HTTP_TARGETS, peersOf } from './plan.mjs';
import { fmt, fmtRange, fmtRate, median, summary, table } from './stats.mjs';

const isTollgate = (name) => name.startsWith('tollgate');

function httpGroups(http) {
  const groups = new Map();
  for (const pair of http) {
    const id = `${pair.framework}|${pair.limited}|${pair.contender}`;
    const g = groups.get(id) ?? {
      framework: pair.framework,
      contender: pair.contender,
      limited: pair.limited,
      pairs: [],
    };
    g.pairs.push(pair);
    groups.set(id, g);
  }
  for (const g of groups.values()) {
    g.added = summary(g.pairs.map((p) => p.addedUs));
    g.ratio = summary(g.pairs.map((p) => p.ratio));
    g.bareUs = summary(g.pairs.map((p) => p.bare.cpuUsPerRequest));
    g.runUs = summary(g.pairs.map((p) => p.run.cpuUsPerRequest));
    g.denied = median(g.pairs.map((p) => p.run.deniedShare));
    g.flags = [
      ...new Set(
        g.pairs.flatMap((p) => [
          ...(!p.limited && p.run.non2xx > 0 ? ['non-2xx'] : []),
          ...(p.run.errors > 0 || p.bare.errors > 0 ? ['socket errors'] : []),
          ...(p.run.spansExported === 0 ? ['no spans'] : []),
        ]),
      ),
    ];
  }
  return groups;
}

function bestPeer(groups, g) {
  let best;
  for (const peer of peersOf(g.framework, g.contender)) {
    const p = groups.get(`${g.framework}|${g.limited}|${peer}`);
    if (p?.added.median === undefined) continue;
    if (best === undefined || p.added.median < best.added.median) best = p;
  }
  return best;
}

function httpTargets(groups) {
  const out = [];
  for (const t of HTTP_TARGETS) {
    const g = groups.get(`${t.framework}|false|${t.subject}`);
    const peers = t.peers
      .map((p) => groups.get(`${t.framework}|false|${p}`))
      .filter((p) => p?.added.median !== undefined);
    if (g === undefined || peers.length === 0) continue;
    const best = peers.reduce((a, b) => (b.added.median < a.added.median ? b : a));
    const limit = t.factor * best.added.median;
    out.push({
      area: 'http',
      target: `${t.framework}: ${t.subject} added CPU ≤ ${t.factor}× ${best.contender}`,
      measured: `${fmt(g.added.median)} µs/req`,
      limit: `${fmt(limit)} µs/req (${best.contender} ${fmt(best.added.median)})`,
      ratio: best.added.median > 0 ? g.added.median / best.added.median : undefined,
      met: g.added.median <= limit,
      profile: `http:${t.framework}:${t.subject}`,
    });
  }
  return out;
}

function httpTable(groups) {
  const targetFor = new Map(HTTP_TARGETS.map((t) => [`${t.framework}|false|${t.subject}`, t]));
  const rows = [];
  for (const g of groups.values()) {
    const best = isTollgate(g.contender) ? bestPeer(groups, g) : undefined;
    const vsBest =
      best !== undefined && best.added.median > 0
        ? `${(g.added.median / best.added.median).toFixed(2)}× ${best.contender}`
        : '';
    const t = targetFor.get(`${g.framework}|${g.limited}|${g.contender}`);
    let target = '';
    let met = '';
    if (t !== undefined) {
      const peers = t.peers
        .map((p) => groups.get(`${g.framework}|false|${p}`)?.added.median)
        .filter((x) => x !== undefined);
      if (peers.length > 0) {
        const limit = t.factor * Math.min(...peers);
        target = `≤ ${t.factor}× best (${fmt(limit)})`;
        met = g.added.median <= limit ? 'yes' : 'NO';
      }
    }
    rows.push([
      g.framework,
      g.limited ? `limited (${fmt((g.denied ?? 0) * 100, 0)}% refused)` : 'allowed',
      g.contender,
      fmt(g.bareUs.median),
      fmtRange(g.added),
      fmtRange(g.ratio, 2),
      vsBest,
      target,
      met,
      g.flags.join(', '),
    ]);
  }
  return table(
    [
      'framework',
      'run',
      'contender',
      'bare µs/req',
      'added CPU µs/req',
      'req/s vs bare',
      'vs best peer',
      'target',
      'met?',
      'notes',
    ],
    rows,
  );
}

function storeGroups(stores) {
  const groups = new Map();
  for (const r of stores) {
    const id = `${r.store}|${r.keys}`;
    const g = groups.get(id) ?? { store: r.store, keys: r.keys, inflight: r.inflight, runs: [] };
    g.runs.push(r);
    groups.set(id, g);
  }
  for (const g of groups.values()) {
    g.perSecond = summary(g.runs.map((r) => r.perSecond));
    g.nodeUs = median(g.runs.map((r) => r.nodeCpuUsPerDecision));
    g.redisUs = median(g.runs.map((r) => r.redisCpuUsPerDecision));
  }
  return groups;
}

function ceilingOf(ceiling, script, keys, pipeline) {
  return ceiling?.runs.find((r) => r.script === script && r.keys === keys && r.pipeline === pipeline);
}

function inprocTargets(stores, heap, ceiling, roundTrips) {
  const out = [];
  const memPeers = ['express-rate-limit', 'rate-limiter-flexible', 'fastify-rate-limit', 'koa-ratelimit'];
  for (const keys of [1, 100_000]) {
    const own = stores.get(`tollgate-store|${keys}`);
    const peers = memPeers.map((p) => stores.get(`${p}|${keys}`)).filter(Boolean);
    if (own && peers.length > 0) {
      const best = peers.reduce((a, b) => (b.perSecond.median > a.perSecond.median ? b : a));
      out.push({
        area: 'memory store',
        target: `decisions/s ${keys === 1 ? 'one hot key' : '100k keys'} ≥ fastest peer store`,
        measured: `${fmtRate(own.perSecond.median)}/s (limiter: ${fmtRate(stores.get(`tollgate-limiter|${keys}`)?.perSecond.median)}/s)`,
        limit: `${fmtRate(best.perSecond.median)}/s (${best.store})`,
        ratio: own.perSecond.median / best.perSecond.median,
        met: own.perSecond.median >= best.perSecond.median,
        profile: `store:tollgate-store:${keys}`,
      });
    }
  }
  const tg = heap.find((h) => h.store === 'tollgate');
  if (tg) {
    out.push({
      area: 'memory store',
      target: 'heap per key (200k keys) ≤ 100 B',
      measured: `${fmt(tg.bytesPerKey, 0)} B`,
      limit: '100 B',
      met: tg.bytesPerKey <= 100,
    });
    out.push({
      area: 'memory store',
      target: 'memory returns once buckets refill (sweep)',
      measured: `${fmt((tg.refill.returnedShare ?? 0) * 100, 0)}% returned, ${tg.refill.heldAfter} keys held`,
      limit: '≥ 95% returned',
      met: (tg.refill.returnedShare ?? 0) >= 0.95,
    });
  }
  for (const keys of [1, 100_000]) {
    const own = stores.get(`tollgate-redis|${keys}`);
    const ceil = ceilingOf(ceiling, 'tollgate', keys, 16);
    if (own && ceil) {
      out.push({
        area: 'redis store',
        target: `decisions/s from one process (${keys === 1 ? 'hot key' : '100k keys'}, 256 in flight) ≥ 90% of redis-benchmark -P 16`,
        measured: `${fmtRate(own.perSecond.median)}/s`,
        limit: `${fmtRate(0.9 * ceil.perSecond)}/s (ceiling ${fmtRate(ceil.perSecond)}/s)`,
        ratio: own.perSecond.median / ceil.perSecond,
        met: own.perSecond.median >= 0.9 * ceil.perSecond,
        profile: `store:tollgate-redis:${keys}`,
      });
    }
  }
  const own = ceilingOf(ceiling, 'tollgate', 100_000, 16);
  const ref = ceilingOf(ceiling, 'reference', 100_000, 16);
  if (own?.redisCpuUsPerCall !== undefined && ref?.redisCpuUsPerCall !== undefined) {
    out.push({
      area: 'redis store',
      target: 'Redis CPU per decision ≤ 0.7× reference HMGET/HSET script (100k keys, -P 16)',
      measured: `${fmt(own.redisCpuUsPerCall, 2)} µs (script alone ${fmt(own.scriptUsPerCall, 2)})`,
      limit: `${fmt(0.7 * ref.redisCpuUsPerCall, 2)} µs (reference ${fmt(ref.redisCpuUsPerCall, 2)}, script alone ${fmt(ref.scriptUsPerCall, 2)})`,
      ratio: own.redisCpuUsPerCall / ref.redisCpuUsPerCall,
      met: own.redisCpuUsPerCall <= 0.7 * ref.redisCpuUsPerCall,
    });
  }
  if (roundTrips) {
    for (const [k, label] of [
      ['single', 'one policy'],
      ['multi', 'two policies'],
    ]) {
      const r = roundTrips[k];
      out.push({
        area: 'redis store',
        target: `round trips per decision, ${label} = 1`,
        measured: `${fmt(r.perDecision, 2)} (${Object.entries(r.byCommand)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ')})`,
        limit: '1',
        met: r.perDecision <= 1,
      });
    }
    const d = roundTrips.denied;
    out.push({
      area: 'redis store',
      target: 'refused flood from one client: no Redis round trips',
      measured: `${d.commands} commands for ${d.decisions} refused decisions`,
      limit: '0',
      met: d.commands === 0,
    });
  }
  return out;
}

function storesTable(stores) {
  const rows = [...stores.values()].map((g) => [
    g.store,
    g.keys === 1 ? '1 (hot)' : String(g.keys),
    String(g.inflight),
    fmtRange({
      median: g.perSecond.median / 1000,
      min: g.perSecond.min / 1000,
      max: g.perSecond.max / 1000,
      n: g.perSecond.n,
    }),
    fmt(g.nodeUs, 2),
    fmt(g.redisUs, 2),
  ]);
  return table(['store', 'keys', 'in flight', 'k decisions/s', 'node CPU µs/decision', 'Redis CPU µs/decision'], rows);
}

function heapTable(heap) {
  return table(
    ['store', 'B/key (200k keys)', 'after refill: returned', 'keys still held'],
    heap.map((h) => [
      h.store,
      fmt(h.bytesPerKey, 0),
      `${fmt((h.refill.returnedShare ?? 0) * 100, 0)}%`,
      `${h.refill.heldAfter} of ${h.refill.heldAtPeak}`,
    ]),
  );
}

function ceilingTable(ceiling) {
  return table(
    ['script', 'keys', 'pipeline', 'k calls/s', 'Redis CPU µs/call', 'script µs/call (commandstats)'],
    ceiling.runs.map((r) => [
      r.script,
      r.keys === 1 ? '1 (hot)' : String(r.keys),
      `-P ${r.pipeline}`,
      fmt(r.perSecond / 1000),
      fmt(r.redisCpuUsPerCall, 2),
      fmt(r.scriptUsPerCall, 2),
    ]),
  );
}

export function renderReport(results) {
  const sections = [];
  const m = results.machine;
  sections.push(
    `tollgate bench (${results.mode}), ${results.startedAt}: ${m.cpuModel}, ${m.cores} cores, node ${m.node}, ` +
      `Redis ${m.redis ?? '?'}, load ${m.loader ?? '—'}, ${m.pinned ? 'server on core 0, load and Redis on core 1' : 'unpinned'}; ` +
      `${results.settings.reps} rep(s) × ${results.settings.seconds}s after ${results.settings.warmup}s warm-up, ` +
      `${results.settings.connections} connections`,
  );
  const groups = httpGroups(results.http);
  const stores = storeGroups(results.stores);
  const targets = [...httpTargets(groups), ...inprocTargets(stores, results.heap, results.ceiling, results.roundTrips)];
  if (groups.size > 0) {
    sections.push(
      `## HTTP: server CPU per request over bare (median [min–max] of ${results.settings.reps})\n\n${httpTable(groups)}`,
    );
  }
  if (stores.size > 0) sections.push(`## In-process decisions per second\n\n${storesTable(stores)}`);
  if (results.heap.length > 0) sections.push(`## Memory stores: heap\n\n${heapTable(results.heap)}`);
  if (results.ceiling) {
    sections.push(
      `## Redis ceiling: redis-benchmark, 50 clients (tollgate script ${results.ceiling.scriptMatchesStore ? 'matches' : 'DOES NOT match'} RedisStore's SHA)\n\n${ceilingTable(results.ceiling)}`,
    );
  }
  if (targets.length > 0) {
    sections.push(
      `## Targets\n\n${table(
        ['area', 'target', 'measured', 'limit', 'met?'],
        targets.map((t) => [t.area, t.target, t.measured, t.limit, t.met ? 'yes' : 'NO']),
      )}\n\n${targets.filter((t) => t.met).length} of ${targets.length} targets met.`,
    );
  }
  const text = sections.join('\n\n');
  return { text, markdown: text, targets };
}
