import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function ping(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the Redis suites can run. In CI (CI=true) a missing Redis fails the run instead of
 * skipping, so a green CI always means the Redis tests ran.
 */
async function detect(): Promise<{ server: boolean; binary: boolean }> {
  const server = await ping(REDIS_URL);
  const binary = hasRedisServer();
  if (process.env.CI && (!server || !binary)) {
    throw new Error(
      `CI requires Redis: server at ${REDIS_URL} ${server ? 'up' : 'DOWN'}, redis-server binary ${binary ? 'found' : 'MISSING'}`,
    );
  }
  if (!server) {
    console.warn(
      `\n!!! Redis suites SKIPPED: no Redis answers at ${REDIS_URL}. Start one (redis-server) or set REDIS_URL to enable them.\n`,
    );
  } else if (!binary) {
    console.warn(
      '\n!!! Redis outage suites SKIPPED: the redis-server binary is not installed (apt-get install redis-server).\n',
    );
  }
  return { server, binary };
}

export const redis = await detect();

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
