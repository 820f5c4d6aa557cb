// One handler for Bun.serve and Deno.serve. Both pass the connection after the request (Bun its
// server, whose requestIP(request) is the client; Deno a ServeHandlerInfo whose remoteAddr is),
// and tollgate reads the client address from it with no option:
//   Bun.serve({ fetch });       Deno.serve(fetch);
import { metricsHandler, rateLimit, telemetry } from '@tollgate/fetch';

const limit = rateLimit({ max: 10, window: '1m', name: 'hello' });
const hello = telemetry({ route: '/hello' })(limit(() => Response.json({ hello: 'world' })));
const metrics = metricsHandler();

export function fetch(request: Request, connection?: unknown): Response | Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname === '/hello') return hello(request, connection);
  if (pathname === '/metrics') return metrics(request);
  return new Response('not found', { status: 404 });
}
