import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal OTLP/HTTP trace receiver for tests: accepts `POST /v1/traces` with a protobuf
 * `ExportTraceServiceRequest` and decodes it with the small wire-format reader below, written
 * from opentelemetry-proto rather than borrowed from the exporter, so the test checks the bytes
 * independently of the code that wrote them.
 */
export interface ReceivedExport {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly resourceSpans: readonly DecodedResourceSpans[];
}

export interface DecodedResourceSpans {
  readonly resource: Record<string, unknown>;
  readonly spans: readonly DecodedSpan[];
}

export interface DecodedSpan {
  readonly scope: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it. */
  readonly url: string;
  readonly exports: ReceivedExport[];
  /** Every span received so far, across exports. */
  spans(): DecodedSpan[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: ReceivedExport[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        exports.push({
          path: req.url,
          contentType: req.headers['content-type'],
          resourceSpans: decodeExportTraceServiceRequest(new Uint8Array(Buffer.concat(chunks))),
        });
        // An empty ExportTraceServiceResponse: full success.
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    spans: () => exports.flatMap((e) => e.resourceSpans.flatMap((r) => r.spans)),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

// opentelemetry/proto/collector/trace/v1/trace_service.proto and the messages it uses.

export function decodeExportTraceServiceRequest(bytes: Uint8Array): DecodedResourceSpans[] {
  const out: DecodedResourceSpans[] = [];
  for (const f of fields(bytes)) if (f.no === 1) out.push(decodeResourceSpans(asBytes(f)));
  return out;
}

function decodeResourceSpans(bytes: Uint8Array): DecodedResourceSpans {
  let resource: Record<string, unknown> = {};
  const spans: DecodedSpan[] = [];
  for (const f of fields(bytes)) {
    if (f.no === 1) resource = decodeResource(asBytes(f));
    else if (f.no === 2) spans.push(...decodeScopeSpans(asBytes(f)));
  }
  return { resource, spans };
}

function decodeResource(bytes: Uint8Array): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const f of fields(bytes)) if (f.no === 1) Object.assign(attributes, decodeKeyValue(asBytes(f)));
  return attributes;
}

function decodeScopeSpans(bytes: Uint8Array): DecodedSpan[] {
  let scope = '';
  const raw: Uint8Array[] = [];
  for (const f of fields(bytes)) {
    if (f.no === 1) {
      for (const s of fields(asBytes(f))) if (s.no === 1) scope = text(asBytes(s));
    } else if (f.no === 2) raw.push(asBytes(f));
  }
  return raw.map((span) => decodeSpan(span, scope));
}

function decodeSpan(bytes: Uint8Array, scope: string): DecodedSpan {
  const span = {
    scope,
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    attributes: {} as Record<string, unknown>,
    statusCode: 0,
  };
  for (const f of fields(bytes)) {
    if (f.no === 1) span.traceId = hex(asBytes(f));
    else if (f.no === 2) span.spanId = hex(asBytes(f));
    else if (f.no === 4) span.parentSpanId = hex(asBytes(f));
    else if (f.no === 5) span.name = text(asBytes(f));
    else if (f.no === 6) span.kind = Number(f.value);
    else if (f.no === 9) Object.assign(span.attributes, decodeKeyValue(asBytes(f)));
    else if (f.no === 15) {
      for (const s of fields(asBytes(f))) if (s.no === 3) span.statusCode = Number(s.value);
    }
  }
  return span;
}

function decodeKeyValue(bytes: Uint8Array): Record<string, unknown> {
  let key = '';
  let value: unknown;
  for (const f of fields(bytes)) {
    if (f.no === 1) key = text(asBytes(f));
    else if (f.no === 2) value = decodeAnyValue(asBytes(f));
  }
  return { [key]: value };
}

function decodeAnyValue(bytes: Uint8Array): unknown {
  for (const f of fields(bytes)) {
    switch (f.no) {
      case 1:
        return text(asBytes(f));
      case 2:
        return f.value !== 0n;
      case 3:
        return Number(BigInt.asIntN(64, f.value as bigint));
      case 4:
        return new DataView(asBytes(f).buffer, asBytes(f).byteOffset, 8).getFloat64(0, true);
      case 5: {
        const items: unknown[] = [];
        for (const item of fields(asBytes(f))) if (item.no === 1) items.push(decodeAnyValue(asBytes(item)));
        return items;
      }
    }
  }
  return undefined;
}

interface Field {
  no: number;
  /** A varint as bigint; fixed64/fixed32 and length-delimited fields as their bytes. */
  value: bigint | Uint8Array;
}

function* fields(bytes: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= bytes.length) throw new Error('truncated varint');
      const byte = bytes[pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > bytes.length) throw new Error('truncated field');
    const slice = bytes.subarray(pos, pos + n);
    pos += n;
    return slice;
  };
  while (pos < bytes.length) {
    const tag = Number(varint());
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) yield { no, value: varint() };
    else if (wire === 1) yield { no, value: take(8) };
    else if (wire === 2) yield { no, value: take(Number(varint())) };
    else if (wire === 5) yield { no, value: take(4) };
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function asBytes(f: Field): Uint8Array {
  if (!(f.value instanceof Uint8Array)) throw new Error(`field ${f.no} is not length-delimited`);
  return f.value;
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
