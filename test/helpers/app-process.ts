import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const APP = fileURLToPath(new URL('../fixtures/express-app.mjs', import.meta.url));
const SKEW = fileURLToPath(new URL('../fixtures/skewed-clock.mjs', import.meta.url));

/** The Express fixture app running in a Node process of its own. */
export class AppProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(env: Record<string, string>, clockOffsetMs = 0): Promise<AppProcess> {
    const args = clockOffsetMs === 0 ? [APP] : ['--import', SKEW, APP];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env, CLOCK_OFFSET_MS: String(clockOffsetMs) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /LISTENING (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`app process exited early with ${code}`)));
    });
    return new AppProcess(child, `http://127.0.0.1:${port}`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** Fires `count` requests at once, spread round-robin over `urls`; returns their statuses. */
export async function burst(urls: readonly string[], path: string, count: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await fetch(`${urls[i % urls.length]}${path}`);
      await res.arrayBuffer();
      return res.status;
    }),
  );
}
