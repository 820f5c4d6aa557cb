#!/usr/bin/env node
// Starts (or stops) a Redis Cluster on loopback for the tests: three masters with one replica
// each, plain redis-server processes, on ports from 30000 up (and their bus ports, +10000) that
// a developer's Redis will not be using. `start` prints the seed nodes, e.g. 127.0.0.1:30000,...
// and writes the PIDs to <dir>/pids; `stop <dir>` kills them and removes the directory.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NODES = 6;

function portFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freeBase() {
  for (let base = 30000; base < 31000; base += NODES) {
    let ok = true;
    for (let i = 0; i < NODES && ok; i++) ok = (await portFree(base + i)) && (await portFree(base + i + 10000));
    if (ok) return base;
  }
  throw new Error('no free ports for a Redis Cluster in 30000-31000');
}

const cli = (port, ...args) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function start() {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cluster-'));
  const base = await freeBase();
  const ports = Array.from({ length: NODES }, (_, i) => base + i);
  const pids = [];
  for (const port of ports) {
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir);
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(nodeDir, 'nodes.conf'),
        '--cluster-node-timeout',
        '2000',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        nodeDir,
        '--protected-mode',
        'no',
      ],
      { detached: true, stdio: 'ignore' },
    );
    child.unref();
    pids.push(child.pid);
  }
  writeFileSync(join(dir, 'pids'), pids.join('\n'));
  writeFileSync(join(dir, 'ports'), ports.join('\n'));
  for (const port of ports) {
    for (let i = 0; ; i++) {
      try {
        if (cli(port, 'ping') === 'PONG') break;
      } catch {}
      if (i > 100) throw new Error(`redis-server on ${port} did not start`);
      await sleep(50);
    }
  }
  execFileSync(
    'redis-cli',
    ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
    { stdio: 'ignore' },
  );
  for (const port of ports) {
    for (let i = 0; ; i++) {
      if (cli(port, 'cluster', 'info').includes('cluster_state:ok')) break;
      if (i > 200) throw new Error(`cluster node ${port} never reached cluster_state:ok`);
      await sleep(50);
    }
  }
  return { dir, nodes: ports.map((p) => `127.0.0.1:${p}`) };
}

function stop(dir) {
  const pids = readFileSync(join(dir, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}

export { start, stop };

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, dir] = process.argv.slice(2);
  if (command === 'start') {
    const cluster = await start();
    console.log(`${cluster.dir} ${cluster.nodes.join(',')}`);
  } else if (command === 'stop' && dir) {
    stop(dir);
  } else {
    console.error('usage: redis-cluster.mjs start | stop <dir>');
    process.exit(2);
  }
}
