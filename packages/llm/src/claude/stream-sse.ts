/**
 * The server-sent events of a streamed Messages API response body, read on the side (a tee of
 * the body the SDK reads), as the event objects the SDK's `Stream` yields. An `event: error`
 * throws what the SDK would throw for it: no HTTP status (the response was a 200), its body as
 * `error`, so the retry policy classifies it by the body's type.
 */
export function sseEvents(
  body: ReadableStream<Uint8Array>,
  headers: unknown,
): {
  controller: AbortController;
  iterator: () => AsyncIterator<unknown>;
  [Symbol.asyncIterator](): AsyncIterator<unknown>;
} {
  const controller = new AbortController();
  return {
    controller,
    iterator: () => parse(body, headers, controller),
    // Through `this.iterator`, as the SDK's Stream does, so a watcher that wraps it is used.
    [Symbol.asyncIterator]() {
      return this.iterator();
    },
  };
}

async function* parse(
  body: ReadableStream<Uint8Array>,
  headers: unknown,
  controller: AbortController,
): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = false;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseBlock(block, headers);
        if (event !== undefined) yield event;
      }
    }
    done = true;
  } finally {
    if (!done) {
      controller.abort();
      await reader.cancel().catch(() => undefined);
    }
    reader.releaseLock();
  }
}

function parseBlock(block: string, headers: unknown): unknown {
  let name: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (name === 'ping' || data.length === 0) return undefined;
  const text = data.join('\n');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (name === 'error') {
    const message = (parsed as { error?: { message?: unknown } })?.error?.message;
    throw Object.assign(new Error(typeof message === 'string' ? message : 'stream error event'), {
      name: 'APIError',
      status: undefined,
      error: parsed,
      headers,
    });
  }
  return parsed;
}
