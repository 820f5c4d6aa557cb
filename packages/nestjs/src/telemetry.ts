import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpServer } from '@nestjs/common';
import { firstHeader, type HttpServerTelemetry, type RequestTelemetry } from '@tollgate/core/adapter';

/** The parts of an Express request that name and describe it (Express 5, as @nestjs/platform-express 11 uses). */
interface ExpressRequest extends IncomingMessage {
  method: string;
  protocol: string;
  path: string;
  hostname: string;
  ip?: string;
  baseUrl?: string;
  route?: { path?: unknown };
}

/** The parts of a Fastify request and reply that telemetry reads. */
interface FastifyRequest {
  method: string;
  protocol: string;
  url: string;
  hostname: string;
  ip: string;
  is404: boolean;
  headers: IncomingMessage['headers'];
  raw: IncomingMessage;
  socket: IncomingMessage['socket'];
  routeOptions: { url?: string };
}
type Done = (error?: unknown) => void;
interface FastifyInstance {
  addHook(name: 'onRequest', hook: (request: FastifyRequest, reply: unknown, done: Done) => void): unknown;
  addHook(
    name: 'onResponse',
    hook: (request: FastifyRequest, reply: { statusCode: number }, done: Done) => void,
  ): unknown;
}

// A registered symbol on the request: the ESM and the CommonJS build must agree on it.
const TELEMETRY: unique symbol = Symbol.for('tollgate.nestjs.telemetry') as never;
type Carrier = { [TELEMETRY]?: RequestTelemetry };

/**
 * Installs the server span and the duration metric on the platform under Nest, before Nest
 * registers its routes (the module does it from `configure`), so every request is measured,
 * refused ones included: guards run after it. Express: a middleware first in the app, ended
 * when the response closes, labelled with the route Express matched (`/users/:id`). Fastify:
 * `onRequest`/`onResponse` hooks, labelled with the route's URL template.
 */
export function installTelemetry(adapter: HttpServer, http: HttpServerTelemetry): void {
  const type = adapter.getType();
  if (type === 'express') {
    const app = adapter.getInstance() as {
      use(handler: (req: ExpressRequest, res: ServerResponse, next: Done) => void): void;
    };
    app.use(expressTelemetry(http));
  } else if (type === 'fastify') {
    fastifyTelemetry(adapter.getInstance() as FastifyInstance, http);
  } else {
    throw new TypeError(
      `@tollgate/nestjs telemetry: unsupported HTTP platform ${JSON.stringify(type)} (express or fastify)`,
    );
  }
}

function expressTelemetry(http: HttpServerTelemetry) {
  return function tollgateTelemetry(req: ExpressRequest, res: ServerResponse, next: Done): void {
    const header = (name: string) => firstHeader(req.headers, name);
    const request = http.start(req.method, () => ({
      method: req.method,
      scheme: req.protocol,
      path: req.path,
      serverAddress: req.hostname,
      serverPort: req.socket.localPort,
      clientAddress: req.ip,
      userAgent: header('user-agent'),
      protocolVersion: req.httpVersion,
      header,
    }));
    // 'close' fires once the response is sent, and also when the connection is gone before.
    res.on('close', () => {
      const path = req.route?.path;
      request.setRoute(typeof path === 'string' ? (req.baseUrl ?? '') + path : undefined);
      request.end(res.statusCode);
    });
    request.run(next);
  };
}

function fastifyTelemetry(fastify: FastifyInstance, http: HttpServerTelemetry): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    const header = (name: string) => firstHeader(request.headers, name);
    const telemetry = http.start(request.method, () => ({
      method: request.method,
      scheme: request.protocol,
      path: request.url.split('?', 1)[0] ?? '/',
      serverAddress: request.hostname,
      serverPort: request.socket.localPort,
      clientAddress: request.ip,
      userAgent: header('user-agent'),
      protocolVersion: request.raw.httpVersion,
      header,
    }));
    (request as FastifyRequest & Carrier)[TELEMETRY] = telemetry;
    // The rest of the hooks, Nest's guards and the handler run in the span's context.
    telemetry.run(done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const telemetry = (request as FastifyRequest & Carrier)[TELEMETRY];
    if (telemetry !== undefined) {
      telemetry.setRoute(request.is404 ? undefined : request.routeOptions.url);
      telemetry.end(reply.statusCode);
    }
    done();
  });
}
