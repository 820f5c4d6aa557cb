import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type InMemoryTracing, startInMemoryTracing } from '../../../../test/helpers/in-memory-tracing.js';
import { ErrorCodes } from '../errors.js';
import { traceOperation, traceSpan } from './trace.js';

describe('without setupTelemetry', () => {
  it('runs the body and returns its value: the spans are no-ops', async () => {
    expect(traceSpan('sync', { a: 1 }, () => 42)).toBe(42);
    await expect(traceSpan('async', undefined, async () => 'done')).resolves.toBe('done');
    const double = traceOperation('double', async (n: number) => n * 2);
    await expect(double(21)).resolves.toBe(42);
    expect(() =>
      traceSpan('throws', {}, () => {
        throw new RangeError('boom');
      }),
    ).toThrow(RangeError);
  });
});

describe('with the SDK', () => {
  let tracing: InMemoryTracing;
  beforeEach(() => {
    tracing = startInMemoryTracing();
  });
  afterEach(async () => {
    await tracing.shutdown();
  });

  it('wraps a sync body in an ended span with its attributes and the status left unset', () => {
    const result = traceSpan('compute', { 'job.kind': 'sync', 'job.size': 3 }, (span) => {
      expect(span.isRecording()).toBe(true);
      return 'ok';
    });
    expect(result).toBe('ok');
    const span = tracing.span('compute');
    expect(span.ended).toBe(true);
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.attributes).toEqual({ 'job.kind': 'sync', 'job.size': 3 });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.instrumentationScope.name).toBe('@tollgate/core');
  });

  it('ends an async span only when its promise settles, with children nested across awaits', async () => {
    let endedBeforeResolve = true;
    const value = await traceSpan('outer', {}, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      traceSpan('inner', {}, () => undefined);
      endedBeforeResolve = tracing.spans().some((s) => s.name === 'outer');
      return 7;
    });
    expect(value).toBe(7);
    expect(endedBeforeResolve).toBe(false);
    const outer = tracing.span('outer');
    const inner = tracing.span('inner');
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(inner.spanContext().traceId).toBe(outer.spanContext().traceId);
    expect(outer.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('records a thrown error (exception event, error.type, status ERROR) and rethrows the same error', () => {
    const error = new TypeError('bad input');
    let caught: unknown;
    try {
      traceSpan('fails', {}, () => {
        throw error;
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(error);
    const span = tracing.span('fails');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad input' });
    expect(span.attributes['error.type']).toBe('TypeError');
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(span.events[0]?.attributes?.['exception.type']).toBe('TypeError');
    expect(span.ended).toBe(true);
  });

  it('records a rejection and rejects with the same reason', async () => {
    class QuotaError extends Error {}
    const error = new QuotaError('over quota');
    await expect(
      traceSpan('rejects', {}, async () => {
        throw error;
      }),
    ).rejects.toBe(error);
    const span = tracing.span('rejects');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('QuotaError');
  });

  it('records a thrown non-Error as error.type _OTHER', () => {
    expect(() =>
      traceSpan('throws string', {}, () => {
        throw 'plain string';
      }),
    ).toThrow('plain string');
    expect(tracing.span('throws string').attributes['error.type']).toBe('_OTHER');
  });

  it('traceOperation wraps a function: each call one span; this and arguments pass through', async () => {
    const service = {
      factor: 3,
      scale: traceOperation('scale', async function (this: { factor: number }, n: number) {
        expect(trace.getActiveSpan()?.isRecording()).toBe(true);
        return n * this.factor;
      }),
    };
    await expect(service.scale(2)).resolves.toBe(6);
    await expect(service.scale(5)).resolves.toBe(15);
    expect(tracing.spans().filter((s) => s.name === 'scale')).toHaveLength(2);
  });

  it('traceOperation is a TypeScript 5 standard method decorator', async () => {
    // Vite's transform leaves standard decorators as they are, so compile this with TypeScript itself.
    const source = `
      export function define(traceOperation) {
        class Billing {
          rate = 2;
          @traceOperation('billing.charge')
          async charge(amount) { return amount * this.rate; }
          @traceOperation()
          async refund(amount) { throw new RangeError('refund ' + amount); }
          @traceOperation()
          static audit() { return 'audited'; }
        }
        return Billing;
      }`;
    const js = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, experimentalDecorators: false },
    }).outputText;
    expect(js).toContain('__esDecorate');
    const { define } = (await import(`data:text/javascript,${encodeURIComponent(js)}`)) as {
      define: (decorator: typeof traceOperation) => {
        new (): { charge(n: number): Promise<number>; refund(n: number): Promise<never> };
        audit(): string;
      };
    };
    const Billing = define(traceOperation);
    await expect(new Billing().charge(21)).resolves.toBe(42);
    await expect(new Billing().refund(5)).rejects.toThrow('refund 5');
    expect(Billing.audit()).toBe('audited');
    expect(tracing.span('billing.charge').status.code).toBe(SpanStatusCode.UNSET);
    const refund = tracing.span('Billing.refund');
    expect(refund.status.code).toBe(SpanStatusCode.ERROR);
    expect(refund.attributes['error.type']).toBe('RangeError');
    expect(tracing.spans().map((s) => s.name)).toContain('Billing.audit');
  });

  it('rejects bad arguments with coded errors', () => {
    expect(() => traceSpan('', {}, () => 1)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }));
    expect(() => traceOperation('x', 'not a function' as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION, option: 'fn' }),
    );
    const decorator = traceOperation('x');
    expect(() => decorator((() => 1) as never, { kind: 'field' } as never)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_OPTION }),
    );
  });
});
