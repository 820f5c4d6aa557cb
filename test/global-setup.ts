import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { ping, REDIS_URL } from './helpers/redis-ping.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redis: { server: boolean; binary: boolean };
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
 * Decides once per run whether the Redis suites can run. In CI (CI=true) a missing Redis fails
 * the run instead of skipping, so a green CI always means every Redis test ran.
 */
export default async function setup(project: TestProject): Promise<void> {
  const server = await ping(REDIS_URL);
  const binary = hasRedisServer();
  if (process.env.CI && (!server || !binary)) {
    throw new Error(
      `CI requires Redis: server at ${REDIS_URL} ${server ? 'up' : 'DOWN'}, redis-server binary ${binary ? 'found' : 'MISSING'}`,
    );
  }
  if (!server) {
    console.warn(`\n!!! Redis suites SKIPPED: nothing answers at ${REDIS_URL}. Start redis-server or set REDIS_URL.\n`);
  } else if (!binary) {
    console.warn('\n!!! Redis outage suites SKIPPED: no redis-server binary (apt-get install redis-server).\n');
  }
  project.provide('redis', { server, binary });
}
