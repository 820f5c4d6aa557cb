import { getRequestListener } from '@hono/node-server';
import { listen } from './http.js';

/** What `@hono/node-server` passes a fetch handler after the request: the Node request and response. */
export type NodeBindings = Parameters<Parameters<typeof getRequestListener>[0]>[1];

/**
 * Serves a fetch handler (or a Hono app's `fetch`) on an ephemeral loopback port through
 * `@hono/node-server`, the Node.js server Hono users run: real HTTP, the real bindings.
 */
export function serveFetch(
  fetch: (request: Request, env: NodeBindings) => Response | Promise<Response>,
  host = '127.0.0.1',
): ReturnType<typeof listen> {
  return listen(getRequestListener(fetch) as Parameters<typeof listen>[0], host);
}
