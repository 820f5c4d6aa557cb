// Everything the bench needs around it: the built packages, its own dependencies, a load
// generator, CPU pinning, and a Redis server. Nothing here measures anything.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapterDirs } from './frameworks.mjs';

export const BENCH = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT = dirname(BENCH);
export const RESULTS = join(BENCH, 'results');

const log = (line) => process.stderr.write(`[bench] ${line}\n`);

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Builds the packages when one of them has no dist yet (a clean clone after `npm install` has). */
export function ensureBuilt() {
  const missing = ['core', ...adapterDirs].filter((p) => !existsSync(join(ROOT, 'packages', p, 'dist', 'index.js')));
  if (missing.length === 0) return;
  log(`packages without dist (${missing.join(', ')}): npm run build`);
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Installs the bench's own devDependencies (the peer libraries) from its lockfile when absent. */
export function ensureDeps() {
  const lock = JSON.parse(readFileSync(join(BENCH, 'package-lock.json'), 'utf8'));
  const wanted = Object.keys(lock.packages[''].devDependencies ?? {});
  const absent = wanted.filter((name) => !existsSync(join(BENCH, 'node_modules', name, 'package.json')));
  if (absent.length === 0) return;
  log(`bench dependencies missing (${absent.join(', ')}): npm ci --prefix bench`);
  execFileSync('npm', ['ci', '--prefix', 'bench', '--no-audit', '--no-fund'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** `apt-get install` (running `apt-get update` once if needed), when root and Debian's tools exist. */
function aptInstall(packages) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !onPath('apt-get')) return false;
  log(`installing ${packages.join(' ')} from Debian`);
  const quiet = {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 300_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', ...packages], quiet).status === 0;
  if (install()) return true;
  spawnSync('apt-get', ['update', '-qq'], quiet);
  return install();
}

/**
 * The load generator: wrk (Debian's) when present or installable, autocannon (a bench
 * devDependency) otherwise. `preferred` is 'wrk', 'autocannon' or undefined.
 */
export function ensureLoader(preferred) {
  if (preferred === 'autocannon') return 'autocannon';
  if (onPath('wrk')) return 'wrk';
  if (aptInstall(['wrk']) && onPath('wrk')) return 'wrk';
  if (preferred === 'wrk') throw new Error('wrk was asked for but cannot be found or installed');
  log('wrk unavailable: falling back to autocannon');
  return 'autocannon';
}

/** redis-server (unless REDIS_URL is given) and redis-benchmark, from Debian when missing. */
export function ensureRedisTools() {
  const need = [];
  if (!process.env.REDIS_URL && !onPath('redis-server')) need.push('redis-server');
  if (!onPath('redis-benchmark')) need.push('redis-tools');
  if (need.length > 0) aptInstall(need);
  return { redisBenchmark: onPath('redis-benchmark') };
}

/** CPU pinning: the server on core 0, load generator and Redis on core 1, when possible. */
export const pinning = (() => {
  const usable = onPath('taskset') && cpus().length >= 2;
  return {
    enabled: usable,
    /** Prefixes a command with `taskset -c core` when pinning is possible. */
    wrap(core, command, args) {
      return usable ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
    },
  };
})();

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process so far, in microseconds, from /proc/<pid>/stat. */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e6;
}

function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on port ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function loadIoredis() {
  const mod = await import('ioredis');
  return mod.Redis ?? mod.default;
}

/**
 * A Redis for the bench: REDIS_URL when given, else a private redis-server on a free loopback
 * port, pinned to core 1, without persistence. `pid` is known when the server runs here.
 */
export async function startRedis() {
  const Redis = await loadIoredis();
  if (process.env.REDIS_URL) {
    const url = process.env.REDIS_URL;
    const admin = new Redis(url, { lazyConnect: false });
    const info = await admin.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    const local = Number.isFinite(pid) && existsSync(`/proc/${pid}/stat`);
    const u = new URL(url);
    log(`using REDIS_URL ${u.host}${local ? ` (pid ${pid})` : ' (not local: no Redis CPU figures)'}`);
    return {
      url,
      host: u.hostname,
      port: Number(u.port || 6379),
      pid: local ? pid : undefined,
      admin,
      owned: false,
      async stop() {
        await admin.quit();
      },
    };
  }
  if (!onPath('redis-server')) {
    throw new Error('no REDIS_URL and no redis-server on PATH (apt-get install redis-server)');
  }
  const port = await freePort();
  const [cmd, args] = pinning.wrap(1, 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  // Never leave it behind, however the bench ends.
  process.on('exit', () => child.kill('SIGTERM'));
  const url = `redis://127.0.0.1:${port}`;
  await waitForPort(port, 10_000);
  const admin = new Redis(url);
  await admin.ping();
  const info = await admin.info('server');
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  const version = /redis_version:(\S+)/.exec(info)?.[1];
  log(`started redis-server ${version} on ${url} (pid ${pid}${pinning.enabled ? ', core 1' : ''})`);
  return {
    url,
    host: '127.0.0.1',
    port,
    pid,
    admin,
    owned: true,
    version,
    async stop() {
      try {
        await admin.quit();
      } catch {
        // already gone
      }
      child.kill('SIGTERM');
    },
  };
}

/** The machine, for the results file. */
export function machine() {
  const cpu = cpus();
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // not Linux
  }
  return {
    cpuModel: cpu[0]?.model,
    cores: cpu.length,
    node: process.version,
    kernel,
    pinned: pinning.enabled,
  };
}
