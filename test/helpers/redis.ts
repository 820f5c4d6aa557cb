import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { inject } from 'vitest';
import { ping } from './redis-ping.js';

export { ping, REDIS_URL } from './redis-ping.js';

/** What test/global-setup.ts found, once for the whole run. */
export const redis = inject('redis');

/** A unique key prefix per test, so runs never see each other's buckets. */
export function uniquePrefix(label: string): string {
  return `tgtest-${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** A redis-server of the test's own, on a free loopback port, that the test may kill, pause and restart. */
export class RedisProcess {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[],
  ) {}

  /** `extraArgs` go to redis-server as they are, e.g. `['--rename-command', 'TIME', '']`. */
  static async start(extraArgs: readonly string[] = []): Promise<RedisProcess> {
    const instance = new RedisProcess(await freePort(), extraArgs);
    await instance.start();
    return instance;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--protected-mode',
        'no',
        ...this.extraArgs,
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (await ping(this.url)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** Kills the server outright: connections are refused until `start()`. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }

  /**
   * Kills the server and blocks until its port refuses connections: for a test that must make
   * Redis vanish at an exact point of a synchronous call (a `duplicate()`).
   */
  killSync(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
    spawnSync('sh', [
      '-c',
      `for i in $(seq 250); do redis-cli -p ${this.port} ping >/dev/null 2>&1 || exit 0; sleep 0.02; done; exit 1`,
    ]);
  }

  /** Freezes the server: connections stay open but nothing answers, as with a hung host. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    this.resume();
    await this.kill();
  }
}

/** An ioredis Cluster client for the test cluster (started by the global setup or by .ci/run). */
export async function clusterClient(): Promise<import('ioredis').Cluster> {
  const { Cluster } = await import('ioredis');
  const nodes = redis.clusterNodes.map((node) => {
    const [host, port] = node.split(':');
    return { host: host as string, port: Number(port) };
  });
  return new Cluster(nodes);
}
