import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
// @ts-expect-error: a plain ESM script shared with .ci/run, without type declarations.
import { start as startCluster, stop as stopCluster } from '../scripts/redis-cluster.mjs';
import { detectPromtool, promtoolVerdict } from './helpers/promtool.js';
import { ping, REDIS_URL } from './helpers/redis-ping.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redis: { server: boolean; binary: boolean; clusterNodes: string[] };
  }
}

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Decides once per run whether the Redis suites can run, and starts a Redis Cluster for them
 * unless REDIS_CLUSTER_NODES names one (as .ci/run does), and whether promtool is there for the
 * metrics-lint and alert tests (TOLLGATE_PROMTOOL names another binary). In CI (CI=true) a
 * missing Redis or promtool fails the run instead of skipping, so a green CI always means every
 * test ran.
 */
export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  // promtool first: in CI a missing one fails the run before a cluster is started for nothing.
  const promtool = detectPromtool();
  const promtoolLine = promtoolVerdict(promtool);
  const server = await ping(REDIS_URL);
  const binary = hasRedisServer();
  let clusterNodes = (process.env.REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);
  let teardown: (() => void) | undefined;
  if (clusterNodes.length === 0 && binary) {
    const cluster = (await startCluster()) as { dir: string; nodes: string[] };
    clusterNodes = cluster.nodes;
    teardown = () => stopCluster(cluster.dir);
  }
  if (process.env.CI && (!server || !binary || clusterNodes.length === 0)) {
    throw new Error(
      `CI requires Redis: server at ${REDIS_URL} ${server ? 'up' : 'DOWN'}, redis-server binary ${binary ? 'found' : 'MISSING'}, cluster ${clusterNodes.length > 0 ? 'up' : 'DOWN'}`,
    );
  }
  if (!server) {
    console.warn(`\n!!! Redis suites SKIPPED: nothing answers at ${REDIS_URL}. Start redis-server or set REDIS_URL.\n`);
  } else if (!binary) {
    console.warn(
      '\n!!! Redis outage and cluster suites SKIPPED: no redis-server binary (apt-get install redis-server).\n',
    );
  }
  if (promtoolLine !== undefined) console.warn(`\n${promtoolLine}\n`);
  project.provide('redis', { server, binary, clusterNodes });
  project.provide('promtool', promtool);
  return teardown;
}
