// The load generator, pinned to core 1: wrk, or autocannon in a child process. Both report the
// same shape: { requests, durationUs, non2xx, errors, p50Us, p99Us }.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { collectOutput } from './child-output.mjs';
import { BENCH, pinning } from './env.mjs';

export const LOAD = {
  connections: 64,
  /** Limited run: one request in `floodEvery` comes from one flooding client. */
  floodEvery: 4,
  /** The cycle of requests: in it, all but the flooder's are distinct clients (3072 of 4096). */
  clients: 4096,
};

/**
 * Sends load to `url` for `seconds`. `pattern` is 'plain' (every request the same) or 'xff'
 * (the limited run's mix of clients, by X-Forwarded-For).
 */
export async function runLoad(loader, { url, seconds, pattern = 'plain', connections = LOAD.connections }) {
  let cmd;
  let args;
  if (loader === 'wrk') {
    const script = join(BENCH, 'load', pattern === 'xff' ? 'xff.lua' : 'plain.lua');
    const wrkArgs = [
      '-t1',
      `-c${connections}`,
      `-d${Math.max(1, Math.round(seconds))}s`,
      '--timeout',
      '5s',
      '-s',
      script,
      url,
    ];
    if (pattern === 'xff') wrkArgs.push('--', String(LOAD.floodEvery), String(LOAD.clients));
    [cmd, args] = pinning.wrap(1, 'wrk', wrkArgs);
  } else {
    const config = JSON.stringify({
      url,
      seconds,
      connections,
      pattern,
      floodEvery: LOAD.floodEvery,
      clients: LOAD.clients,
    });
    [cmd, args] = pinning.wrap(1, process.execPath, [join(BENCH, 'lib', 'autocannon-child.mjs'), config]);
  }
  const { code, out, err } = await collectOutput(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (code !== 0 || line === undefined) {
    throw new Error(`${loader} failed (exit ${code}): ${err.trim() || out.trim()}`);
  }
  const r = JSON.parse(line.slice('WRKJSON '.length));
  return {
    requests: r.requests,
    durationUs: r.durationUs,
    non2xx: r.non2xx,
    errors: (r.connectErrors ?? 0) + (r.readErrors ?? 0) + (r.writeErrors ?? 0) + (r.timeouts ?? 0),
    p50Us: r.p50Us,
    p99Us: r.p99Us,
  };
}
