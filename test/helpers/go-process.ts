import { type ChildProcess, spawn } from 'node:child_process';

/**
 * A Node child process driven by lines: it prints `READY …` when set up, starts on a `GO` line
 * on stdin, and prints `RESULT <json>` when done. Lets several processes start work together.
 */
export class GoProcess {
  private out = '';
  private readonly child: ChildProcess;
  private readonly exited: Promise<never>;
  private readonly waiters: (() => void)[] = [];

  constructor(args: readonly string[], env: Record<string, string>, label: string) {
    this.child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
    this.exited = new Promise<never>((_, reject) =>
      this.child.once('exit', (code) => reject(new Error(`${label} process exited with ${code}: ${this.out}`))),
    );
    // The exit rejection is observed through `line`; keep it from being unhandled.
    this.exited.catch(() => {});
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.out += chunk.toString();
      for (const look of this.waiters) look();
    });
  }

  /** The first stdout match of `pattern`, or a rejection if the process exits first. */
  line(pattern: RegExp): Promise<RegExpExecArray> {
    return Promise.race([
      new Promise<RegExpExecArray>((resolve) => {
        const look = () => {
          const match = pattern.exec(this.out);
          if (match) resolve(match);
        };
        this.waiters.push(look);
        look();
      }),
      this.exited,
    ]);
  }

  /** The parsed `RESULT <json>` line. */
  resultLine<T>(): Promise<T> {
    return this.line(/^RESULT (.*)$/m).then((m) => JSON.parse(m[1] as string) as T);
  }

  go(): void {
    this.child.stdin?.write('GO\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await done;
  }
}
