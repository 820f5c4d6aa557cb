// A stand-in for the Claude Messages API, so the proxy runs with no key and no network: it
// answers POST /v1/messages with a realistic message, usage block and rate-limit headers
// (as server-sent events when the request says `"stream": true`).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

export async function startFakeClaudeApi({ port = 0 } = {}) {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/messages') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'Not found' } }));
        return;
      }
      const body = JSON.parse(raw || '{}');
      const input = Math.ceil(JSON.stringify(body.messages ?? []).length / 4);
      const output = Math.min(body.max_tokens ?? 256, 42);
      const requestId = `req_${randomUUID().replaceAll('-', '')}`;
      res.writeHead(200, {
        'content-type': body.stream === true ? 'text/event-stream' : 'application/json',
        'request-id': requestId,
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '49',
        'anthropic-ratelimit-input-tokens-limit': '30000',
        'anthropic-ratelimit-input-tokens-remaining': '29000',
        'anthropic-ratelimit-output-tokens-limit': '8000',
        'anthropic-ratelimit-output-tokens-remaining': '8000',
      });
      const text = 'Hello from the fake Claude API.';
      const message = {
        id: `msg_${randomUUID().replaceAll('-', '')}`,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [{ type: 'text', text }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: input,
          output_tokens: output,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        },
      };
      if (body.stream !== true) {
        res.end(JSON.stringify(message));
        return;
      }
      // As the API streams: message_start (input usage), the text, message_delta (output usage).
      const events = [
        {
          type: 'message_start',
          message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
        },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
        { type: 'content_block_stop', index: 0 },
        {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: output },
        },
        { type: 'message_stop' },
      ];
      res.end(events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}
