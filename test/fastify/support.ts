import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { afterEach } from 'vitest';

export {
  get,
  getMany,
  manualClock,
  QUOTA_EXCEEDED,
  type Reply,
  rateLimitHeaderNames,
  sfList,
  storeKeys,
} from '../express/support.js';

const apps: FastifyInstance[] = [];

/** Closes every app a test made with `fastify`, after each test of the calling file. */
export function closeAppsAfterEach(): void {
  afterEach(async () => {
    for (const app of apps.splice(0)) {
      // An app whose plugins failed to load rejects close() with the same error: already asserted.
      await app.close().catch(() => {});
    }
  });
}

/** A Fastify app, closed after the test. */
export function fastify(options: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify(options);
  apps.push(app);
  return app;
}

/** Listens on an ephemeral loopback port and returns the base URL. */
export function start(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

/** A route handler that counts its calls. */
export function counting(): { calls: () => number; handler: () => Promise<{ ok: true; call: number }> } {
  let calls = 0;
  return {
    calls: () => calls,
    handler: async () => {
      calls += 1;
      return { ok: true, call: calls };
    },
  };
}

export { brokenStore } from '../helpers/broken-store.js';

/** A HEAD request: status and headers (a HEAD response has no body). */
export async function head(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'HEAD', headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
