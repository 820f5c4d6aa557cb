import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@tollgate/core';
import type { Cluster } from 'ioredis';
import { GoProcess } from '../helpers/go-process.js';

/**
 * One row of the `npm run reliability` table. Tests append rows to the JSON-lines file named by
 * TOLLGATE_RELIABILITY_REPORT (scripts/reliability.mjs sets it); without it nothing is written.
 */
export interface Figures {
  scenario: string;
  requests: number;
  admitted: number | string;
  expected: number | string;
  /** Slowest single request or call, in milliseconds (printed, never asserted). */
  maxLatencyMs: number;
  /** Requests that failed: 5xx, transport errors, hangs, unhandled errors. */
  errors: number;
  /** Acknowledged writes or live counters that did not survive (must be 0). */
  dataLost: number;
  notes?: string;
}

export function report(figures: Figures): void {
  console.log(`[reliability] ${JSON.stringify(figures)}`);
  const file = process.env.TOLLGATE_RELIABILITY_REPORT;
  if (!file) return;
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(figures)}\n`);
}

export interface LogLine {
  level: string;
  message: string;
  fields: object;
}

/** A logger that keeps its lines, so a test can check what would have been logged. */
export function collectingLogger(): { lines: LogLine[]; logger: Logger } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: object, message: string) => {
    lines.push({ level, message, fields });
  };
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `host:port` seeds → an ioredis Cluster client. */
export async function clusterOf(nodes: readonly string[]): Promise<Cluster> {
  const { Cluster } = await import('ioredis');
  return new Cluster(
    nodes.map((node) => {
      const [host, port] = node.split(':');
      return { host: host as string, port: Number(port) };
    }),
  );
}

/** The master that owns `key`'s hash slot, as `host:port`, asked of the cluster itself. */
export async function masterOwning(cluster: Cluster, key: string): Promise<string> {
  const slot = Number(await cluster.cluster('KEYSLOT', key));
  for (const [from, to, master] of await cluster.cluster('SLOTS')) {
    if (master !== undefined && slot >= from && slot <= to) return `${master[0]}:${master[1]}`;
  }
  throw new Error(`no master owns slot ${slot}`);
}

export async function keySlot(cluster: Cluster, key: string): Promise<number> {
  return Number(await cluster.cluster('KEYSLOT', key));
}

/** The pid of the redis-server on a loopback port, from `INFO server`. */
export function redisPid(port: number): number {
  const info = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'server'], { encoding: 'utf8' });
  const match = /process_id:(\d+)/.exec(info);
  if (!match) throw new Error(`no process_id in INFO server of port ${port}`);
  return Number(match[1]);
}

/**
 * Waits until every master of a fresh cluster has a replica that is attached and in sync.
 * `redis-cli --cluster create` returns (and the cluster reports `cluster_state:ok`) a second or
 * two before that; a master killed in between is never failed over, since its replica's data
 * counts as too old.
 */
export async function replicasInSync(nodes: readonly string[], attempts = 400): Promise<void> {
  const ports = nodes.map((n) => Number(n.split(':')[1]));
  const cli = (port: number, ...args: string[]) =>
    execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  for (let i = 0; i < attempts; i++) {
    const roles = ports.map((port) => cli(port, 'INFO', 'replication'));
    const masters = roles.filter((r) => r.includes('role:master'));
    const synced = roles.filter((r) => r.includes('role:slave') && r.includes('master_link_status:up'));
    // And every node's slot map lists the replicas: a client reading the map from a node that
    // does not know them yet drops its connections to them, failing what is in flight there.
    const replicasKnown = ports.every((port) => {
      const ranges = cli(port, '--json', 'CLUSTER', 'SLOTS');
      return (JSON.parse(ranges) as unknown[][]).every((range) => range.length >= 4);
    });
    if (synced.length === masters.length && masters.every((m) => /connected_slaves:[1-9]/.test(m)) && replicasKnown) {
      return;
    }
    await sleep(50);
  }
  throw new Error('the replicas of the cluster never came in sync');
}

/** Every key under `pattern` on every master of the cluster. */
export async function clusterKeys(cluster: Cluster, pattern: string): Promise<string[]> {
  const keys = await Promise.all(cluster.nodes('master').map((node) => node.keys(pattern)));
  return keys.flat();
}

// --------------------------------------------------------------------------------------------
// A fleet of app processes (test/fixtures/fleet-app.mjs), fired together.

const FLEET_APP = fileURLToPath(new URL('../fixtures/fleet-app.mjs', import.meta.url));
const SKEW = fileURLToPath(new URL('../fixtures/skewed-clock.mjs', import.meta.url));

export interface RouteResult {
  admitted: Record<string, number>;
  statuses: Record<string, number>;
  maxLatencyMs: number;
  errors: string[];
}

export type FleetResult = Record<string, RouteResult>;

/** One process of the fleet: started, READY, then GO → RESULT. */
export class FleetMember extends GoProcess {
  readonly ready: Promise<{ port: number; clock: number }>;
  readonly result: Promise<FleetResult>;

  constructor(env: Record<string, string>, clockOffsetMs = 0) {
    const args = clockOffsetMs === 0 ? [FLEET_APP] : ['--import', SKEW, FLEET_APP];
    super(args, { ...env, CLOCK_OFFSET_MS: String(clockOffsetMs) }, 'fleet');
    this.ready = this.line(/^READY (\d+) (\d+)$/m).then((m) => ({ port: Number(m[1]), clock: Number(m[2]) }));
    this.result = this.resultLine<FleetResult>();
  }
}

/** Starts one member per clock offset, waits until all are READY, fires them together. */
export async function runFleet(
  env: Record<string, string>,
  offsets: readonly number[],
  members: FleetMember[],
  beforeGo?: () => void | Promise<void>,
): Promise<{ results: FleetResult[]; clocks: number[]; urls: string[] }> {
  const started = offsets.map((offset) => new FleetMember(env, offset));
  members.push(...started);
  const ready = await Promise.all(started.map((m) => m.ready));
  await beforeGo?.();
  for (const m of started) m.go();
  const results = await Promise.all(started.map((m) => m.result));
  return { results, clocks: ready.map((r) => r.clock), urls: ready.map((r) => `http://127.0.0.1:${r.port}`) };
}

/** Per route, summed over the fleet: admitted per client, statuses, slowest request, errors. */
export function combine(results: readonly FleetResult[]): Record<string, RouteResult> {
  const out: Record<string, RouteResult> = {};
  for (const result of results) {
    for (const [route, r] of Object.entries(result)) {
      out[route] ??= { admitted: {}, statuses: {}, maxLatencyMs: 0, errors: [] };
      const into = out[route];
      for (const [k, n] of Object.entries(r.admitted)) into.admitted[k] = (into.admitted[k] ?? 0) + n;
      for (const [k, n] of Object.entries(r.statuses)) into.statuses[k] = (into.statuses[k] ?? 0) + n;
      into.maxLatencyMs = Math.max(into.maxLatencyMs, r.maxLatencyMs);
      into.errors.push(...r.errors);
    }
  }
  return out;
}
