import type Koa from 'koa';
import { serve } from '../express/support.js';

export {
  closeServersAfterEach,
  get,
  getMany,
  manualClock,
  QUOTA_EXCEEDED,
  rateLimitHeaderNames,
  sfList,
  storeKeys,
} from '../express/support.js';

/** Serves a Koa app on an ephemeral loopback port (closed after the test) and returns its base URL. */
export function serveKoa(app: Koa): Promise<string> {
  return serve(app.callback());
}

/** A Koa middleware that counts its calls and answers `{ ok, call }`. */
export function counting(): { calls: () => number; handler: (ctx: Koa.Context) => void } {
  let calls = 0;
  return {
    calls: () => calls,
    handler: (ctx) => {
      calls += 1;
      ctx.body = { ok: true, call: calls };
    },
  };
}

export { brokenStore } from '../helpers/broken-store.js';

/** A logger that keeps its messages instead of writing to stderr. */
export function quietLogger(): { lines: string[]; logger: { info: Log; warn: Log; error: Log } } {
  const lines: string[] = [];
  const log: Log = (_fields, message) => {
    lines.push(message);
  };
  return { lines, logger: { info: log, warn: log, error: log } };
}

type Log = (fields: object, message: string) => void;
