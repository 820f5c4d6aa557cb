import type { StreamEnd } from '../engine/provider.js';
import { headerValue } from './retry-policy.js';

/**
 * Streamed Claude responses, watched without being taken from the caller. Both shapes of the
 * official SDK are understood, structurally (this package does not depend on the SDK):
 *
 * - `Stream` (`messages.create({ stream: true })`, or its `.withResponse()`'s `data`): an async
 *   iterable whose events are pulled by the caller. Its iterator is wrapped in place, so the
 *   caller keeps the same object (`tee()`, `toReadableStream()` and `controller` still work).
 *   The first event is read before `run()` returns, so an error before any event is retried.
 * - `MessageStream` (`messages.stream()`): an emitter that reads on its own. Listened to; `run()`
 *   returns once its first event arrived (its `connect` has then fired).
 *
 * Usage comes from the events: `message_start` carries input and cache tokens, the final
 * `message_delta` the output so far (cumulative). A stream cut off part-way ends with what its
 * events reported.
 */

type Listener = (...args: never[]) => void;
interface MessageStreamLike {
  on(event: string, listener: Listener): unknown;
  finalMessage(): Promise<unknown>;
  readonly response?: { headers?: unknown } | null | undefined;
  readonly request_id?: string | null | undefined;
}
interface SdkStreamLike {
  controller: unknown;
  iterator: () => AsyncIterator<unknown>;
  [Symbol.asyncIterator](): AsyncIterator<unknown>;
}

function isMessageStream(value: unknown): value is MessageStreamLike {
  const v = value as Partial<MessageStreamLike> | null;
  return typeof v?.on === 'function' && typeof v.finalMessage === 'function';
}

function isSdkStream(value: unknown): value is SdkStreamLike {
  const v = value as Partial<SdkStreamLike> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.iterator === 'function' &&
    typeof v[Symbol.asyncIterator] === 'function' &&
    'controller' in v
  );
}

/** Usage as the events reported it so far: message_start's, then each message_delta's fields over it. */
class UsageFromEvents {
  usage: Record<string, unknown> | undefined;

  observe(event: unknown): void {
    const e = event as { type?: unknown; message?: { usage?: unknown }; usage?: unknown } | null;
    if (typeof e !== 'object' || e === null) return;
    if (e.type === 'message_start' && typeof e.message?.usage === 'object' && e.message.usage !== null) {
      this.usage = { ...(e.message.usage as Record<string, unknown>) };
    } else if (e.type === 'message_delta' && typeof e.usage === 'object' && e.usage !== null) {
      // message_delta's counts are cumulative; a null means "not reported here".
      this.usage ??= {};
      for (const [k, v] of Object.entries(e.usage as Record<string, unknown>)) if (v != null) this.usage[k] = v;
    }
  }
}

/**
 * When `result` is a streamed response, watches it: the promise settles at its first event
 * (rejecting with the error that came before any, when `onEnd` is never called), and `onEnd`
 * gets the usage and the error, if any, once the stream is over however it ended. Undefined
 * for anything that is not a stream.
 */
export function watchClaudeStream(
  result: unknown,
  onEnd: (end: StreamEnd) => Promise<void>,
): Promise<void> | undefined {
  if (isMessageStream(result)) return watchMessageStream(result, onEnd);
  if (isSdkStream(result)) return watchSdkStream(result, undefined, undefined, onEnd);
  const r = result as { data?: unknown; response?: { headers?: unknown }; request_id?: unknown } | null;
  if (typeof r === 'object' && r !== null && isSdkStream(r.data) && typeof r.response === 'object') {
    const headers = r.response?.headers;
    const id = typeof r.request_id === 'string' ? r.request_id : headerValue(headers as never, 'request-id');
    return watchSdkStream(r.data, headers, id, onEnd);
  }
  return undefined;
}

function watchSdkStream(
  stream: SdkStreamLike,
  headers: unknown,
  requestId: string | undefined,
  onEnd: (end: StreamEnd) => Promise<void>,
): Promise<void> {
  const events = new UsageFromEvents();
  const source = stream.iterator();
  let handedOut = false;
  return source.next().then((first) => {
    events.observe(first.value);
    // In place: the caller keeps the very object the SDK gave, with its methods and controller.
    stream.iterator = () => {
      if (handedOut) throw new Error('Cannot iterate over a consumed stream, use `.tee()` to split the stream.');
      handedOut = true;
      return relay(first);
    };
  });

  async function* relay(first: IteratorResult<unknown>): AsyncGenerator<unknown> {
    let error: unknown;
    let finished = first.done === true;
    try {
      if (!finished) yield first.value;
      while (!finished) {
        const next = await source.next();
        if (next.done === true) finished = true;
        else {
          events.observe(next.value);
          yield next.value;
        }
      }
    } catch (caught) {
      error = caught;
      throw caught;
    } finally {
      // The caller stopped early (`break`): the SDK's own iterator then aborts the request.
      if (!finished && error === undefined) await source.return?.();
      await onEnd({ usage: events.usage, error, complete: finished, headers, requestId });
    }
  }
}

function watchMessageStream(stream: MessageStreamLike, onEnd: (end: StreamEnd) => Promise<void>): Promise<void> {
  const events = new UsageFromEvents();
  return new Promise<void>((resolve, reject) => {
    let started = false;
    let error: unknown;
    // A listener that throws would fail the caller's stream: these never do.
    stream.on('streamEvent', ((event: unknown) => {
      events.observe(event);
      if (!started) {
        started = true;
        resolve();
      }
    }) as Listener);
    const failed = ((caught: unknown) => {
      error = caught;
      if (!started) reject(caught);
    }) as Listener;
    stream.on('error', failed);
    stream.on('abort', failed);
    stream.on('end', (() => {
      if (!started && error === undefined) {
        started = true;
        resolve();
      }
      if (!started) return;
      const headers = stream.response?.headers;
      const id = stream.request_id ?? headerValue(headers as never, 'request-id');
      void onEnd({
        usage: events.usage,
        error,
        complete: error === undefined,
        headers,
        requestId: typeof id === 'string' ? id : undefined,
      });
    }) as Listener);
  });
}
