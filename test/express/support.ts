import type { IncomingMessage, ServerResponse } from 'node:http';
import { MemoryStore } from '@tollgate/core';
import type { ErrorRequestHandler } from 'express';
import { afterEach } from 'vitest';
import { listen } from '../helpers/http.js';

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

const closers: Array<() => Promise<void>> = [];

/** Closes every server a test opened with `serve`, after each test of the calling file. */
export function closeServersAfterEach(): void {
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
}

/** Listens on an ephemeral loopback port and returns the base URL; closed after the test. */
export async function serve(app: NodeHandler, host = '127.0.0.1'): Promise<string> {
  const { url, close } = await listen(app, host);
  closers.push(close);
  return url;
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: Record<string, unknown> | undefined;
}

/** A GET with the given request headers; the whole body is read. */
export async function get(url: string, headers: Record<string, string> = {}, hangGuardMs = 10_000): Promise<Reply> {
  // The signal only keeps a hung request from stalling the suite; no assertion depends on time.
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(hangGuardMs) });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Sends `n` GETs one after another and returns their replies. */
export async function getMany(n: number, url: string, headers: Record<string, string> = {}): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < n; i++) replies.push(await get(url, headers));
  return replies;
}

/** A MemoryStore whose clock the test moves by hand, so header values are exact. */
export function manualClock(start = 1_000_000): { store: MemoryStore; advance: (ms: number) => void } {
  let now = start;
  const store = new MemoryStore({ now: () => now });
  return {
    store,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** The keys a MemoryStore holds right now. */
export function storeKeys(store: MemoryStore): string[] {
  return [...store.keys()];
}

/** A route handler that counts its calls. */
export function counter(): {
  calls: () => number;
  handler: (req: unknown, res: { json: (b: unknown) => unknown }) => void;
} {
  let calls = 0;
  return {
    calls: () => calls,
    handler: (_req, res) => {
      calls += 1;
      res.json({ ok: true, call: calls });
    },
  };
}

/** An error middleware that answers 500 with the error's `code`, so a test can see which error reached Express. */
export const codeErrorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'none';
  res.status(500).json({ error: code });
};

/** The RFC 9457 problem type of a 429 from tollgate. */
export const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded';

/** Splits a Structured Field list of items (`"a";q=1;w=2, "b";q=3;w=4`) into [name, params] pairs. */
export function sfList(value: string | null): Array<{ name: string; params: Record<string, string> }> {
  if (value === null || value === '') return [];
  return value.split(/\s*,\s*/).map((item) => {
    const [head, ...rest] = item.split(';');
    const params: Record<string, string> = {};
    for (const p of rest) {
      const [k, v] = p.split('=');
      params[k as string] = v as string;
    }
    return { name: head as string, params };
  });
}

/** The names of the rate-limit header fields a response carries. */
export function rateLimitHeaderNames(headers: Headers): string[] {
  return [...headers.keys()].filter((h) => /ratelimit/i.test(h)).sort();
}
