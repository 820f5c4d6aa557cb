// A Next.js App Router route handler module, as it would sit in app/api/hello/route.ts. Next.js
// gives a route handler no client address, so it is read from X-Real-IP: right only behind a
// proxy or platform that overwrites that header with the client's address.
import { rateLimit, rateLimitOf, telemetry } from '@tollgate/fetch';

// Route handlers use the Node.js runtime by default; tollgate does not run on the Edge runtime.
export const runtime = 'nodejs';

const limit = rateLimit({
  max: 10,
  window: '1m',
  name: 'hello',
  clientAddress: (request) => request.headers.get('x-real-ip'),
});

/** Next.js calls it with the request and `{ params }`; neither is needed to decide. */
export const GET = telemetry({ route: '/api/hello' })(
  limit((request: Request, _context: { params: Promise<Record<string, string>> }) =>
    Response.json({ hello: 'world', left: rateLimitOf(request)?.remaining }),
  ),
);
