// Turns the raw measurements into the tables and the list of targets, met or not.
import { HTTP_TARGETS, LIKE_FOR_LIKE, P99_TARGETS, peersOf } from './plan.mjs';
import { fmt, fmtRange, fmtRate, median, summary, table } from './stats.mjs';

const isTollgate = (name) => name.startsWith('tollgate');

/**
 * Whether `subject` is at most `factor` × `peer`, judged with the spread over repetitions (issue 18
 * item 4): 'too noisy to call' when the ranges overlap, i.e. the spread exceeds the difference (some
 * repetition says yes and another no). With one repetition there is no spread to judge by.
 */
function judge(subject, peer, factor) {
  const met = subject.median <= factor * peer.median;
  const noisy = subject.n >= 2 && peer.n >= 2 && subject.max >= factor * peer.min && subject.min <= factor * peer.max;
  return { met, noisy, status: noisy ? 'too noisy to call' : met ? 'yes' : 'NO' };
}

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
    g.p99 = summary(g.pairs.map((p) => p.run.p99Us / 1000));
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
      target: `${t.framework}: ${t.subject} added CPU ≤ ${t.factor}× ${best.contender} (strict: cheapest peer)`,
      measured: `${fmtRange(g.added)} µs/req`,
      limit: `${fmt(limit)} µs/req (${best.contender} ${fmtRange(best.added)})`,
      ratio: best.added.median > 0 ? g.added.median / best.added.median : undefined,
      ...judge(g.added, best.added, t.factor),
      profile: `http:${t.framework}:${t.subject}`,
    });
  }
  for (const [framework, pairs] of Object.entries(LIKE_FOR_LIKE)) {
    for (const { subject, peer, as } of pairs) {
      const g = groups.get(`${framework}|false|${subject}`);
      const p = groups.get(`${framework}|false|${peer}`);
      if (g?.added.median === undefined || p?.added.median === undefined) continue;
      out.push({
        area: 'http like for like',
        target: `${framework}: ${subject} added CPU ≤ 0.5× ${peer} (${as})`,
        measured: `${fmtRange(g.added)} µs/req`,
        limit: `${fmt(0.5 * p.added.median)} µs/req (${peer} ${fmtRange(p.added)})`,
        ratio: p.added.median > 0 ? g.added.median / p.added.median : undefined,
        ...judge(g.added, p.added, 0.5),
        profile: `http:${framework}:${subject}`,
      });
    }
  }
  for (const t of P99_TARGETS) {
    const g = groups.get(`${t.framework}|false|${t.subject}`);
    const p = groups.get(`${t.framework}|false|${t.peer}`);
    if (g?.p99.median === undefined || p?.p99.median === undefined) continue;
    out.push({
      area: 'http p99',
      target: `${t.framework}: ${t.subject} p99 at saturation ≤ ${t.factor}× ${t.peer}`,
      measured: `${fmtRange(g.p99, 2)} ms`,
      limit: `${fmt(t.factor * p.p99.median, 2)} ms (${t.peer} ${fmtRange(p.p99, 2)})`,
      ratio: g.p99.median / p.p99.median,
      ...judge(g.p99, p.p99, t.factor),
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
        .map((p) => groups.get(`${g.framework}|false|${p}`))
        .filter((p) => p?.added.median !== undefined);
      if (peers.length > 0) {
        const best = peers.reduce((a, b) => (b.added.median < a.added.median ? b : a));
        target = `≤ ${t.factor}× best (${fmt(t.factor * best.added.median)})`;
        met = judge(g.added, best.added, t.factor).status;
      }
    }
    rows.push([
      g.framework,
      g.limited ? `limited (${fmt((g.denied ?? 0) * 100, 0)}% refused)` : 'allowed',
      g.contender,
      fmt(g.bareUs.median),
      fmtRange(g.added),
      fmtRange(g.ratio, 2),
      fmtRange(g.p99, 2),
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
      'p99 ms',
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
  // The exact clock (the default) and the cached one the issue allows (`clockResolutionMs: 1`).
  const subjects = [
    ['tollgate-store', ''],
    ['tollgate-store-cached-clock', ', clockResolutionMs: 1'],
  ];
  for (const keys of [1, 100_000]) {
    const peers = memPeers.map((p) => stores.get(`${p}|${keys}`)).filter(Boolean);
    for (const [subject, how] of subjects) {
      const own = stores.get(`${subject}|${keys}`);
      if (!own || peers.length === 0) continue;
      const best = peers.reduce((a, b) => (b.perSecond.median > a.perSecond.median ? b : a));
      const limiter =
        subject === 'tollgate-store'
          ? ` (limiter: ${fmtRate(stores.get(`tollgate-limiter|${keys}`)?.perSecond.median)}/s)`
          : '';
      out.push({
        area: 'memory store',
        target: `decisions/s ${keys === 1 ? 'one hot key' : '100k keys'} ≥ fastest peer store${how}`,
        measured: `${fmtRate(own.perSecond.median)}/s${limiter}`,
        limit: `${fmtRate(best.perSecond.median)}/s (${best.store})`,
        ratio: own.perSecond.median / best.perSecond.median,
        met: own.perSecond.median >= best.perSecond.median,
        profile: `store:${subject}:${keys}`,
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
    const label = keys === 1 ? 'hot key' : '100k keys';
    const ceil = ceilingOf(ceiling, 'tollgate', keys, 16);
    if (own && ceil) {
      out.push({
        area: 'redis store',
        target: `decisions/s from one process (${label}, 256 in flight) ≥ 1.0× redis-benchmark -P 16 of one call`,
        measured: `${fmtRate(own.perSecond.median)}/s`,
        limit: `${fmtRate(ceil.perSecond)}/s`,
        ratio: own.perSecond.median / ceil.perSecond,
        met: own.perSecond.median >= ceil.perSecond,
        profile: `store:tollgate-redis:${keys}`,
      });
    }
    // Before and after coalescing (issue 18 item 1), side by side in this run.
    const single = stores.get(`tollgate-redis-uncoalesced|${keys}`);
    if (own && single) {
      out.push({
        area: 'redis store',
        target: `decisions/s (${label}, 256 in flight) ≥ 2× one script call per decision (coalesce: false)`,
        measured: `${fmtRate(own.perSecond.median)}/s, node ${fmt(own.nodeUs, 2)} µs, Redis ${fmt(own.redisUs, 2)} µs per decision`,
        limit: `${fmtRate(2 * single.perSecond.median)}/s (uncoalesced ${fmtRate(single.perSecond.median)}/s, node ${fmt(single.nodeUs, 2)} µs, Redis ${fmt(single.redisUs, 2)} µs)`,
        ratio: own.perSecond.median / single.perSecond.median,
        met: own.perSecond.median >= 2 * single.perSecond.median,
      });
    }
  }
  const own = ceilingOf(ceiling, 'tollgate', 100_000, 16);
  const ref = ceilingOf(ceiling, 'reference', 100_000, 16);
  const coalesced = stores.get('tollgate-redis|100000');
  if (coalesced?.redisUs !== undefined && ref?.redisCpuUsPerCall !== undefined) {
    out.push({
      area: 'redis store',
      target: 'Redis CPU per decision, coalesced from one process (100k keys) ≤ 0.5× reference script (-P 16)',
      measured: `${fmt(coalesced.redisUs, 2)} µs`,
      limit: `${fmt(0.5 * ref.redisCpuUsPerCall, 2)} µs (reference ${fmt(ref.redisCpuUsPerCall, 2)})`,
      ratio: coalesced.redisUs / ref.redisCpuUsPerCall,
      met: coalesced.redisUs <= 0.5 * ref.redisCpuUsPerCall,
    });
  }
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
      `## HTTP: server CPU per request over bare (median [min–max] over ${results.settings.reps} repetitions${
        Object.keys(results.settings.repsByFramework ?? {}).length > 0
          ? `; ${Object.entries(results.settings.repsByFramework)
              .map(([f, n]) => `${f} ${n}`)
              .join(', ')}`
          : ''
      })\n\n${httpTable(groups)}`,
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
        targets.map((t) => [t.area, t.target, t.measured, t.limit, t.status ?? (t.met ? 'yes' : 'NO')]),
      )}\n\n${targets.filter((t) => t.met && !t.noisy).length} of ${targets.length} targets met` +
        `, ${targets.filter((t) => t.noisy).length} too noisy to call (the ranges over repetitions overlap).`,
    );
  }
  const text = sections.join('\n\n');
  return { text, markdown: text, targets };
}
