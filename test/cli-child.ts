import { type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliProcess, PROJECT_ROOT } from './cli.js';

/** The fault tests' hook (hold-worker.ts), loaded into the CLI when a test asks for SPARSETRACE_TEST_HOLD. */
const HOLD_HOOK = pathToFileURL(join(PROJECT_ROOT, 'dist', 'test', 'hold-worker.js')).href;

/** A child process of the CLI whose stderr is collected, with bounded waits for a line and for its exit. */
export class Cli {
  stderr = '';
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  /** `env` is added to this process's environment; a variable set to undefined is removed. */
  constructor(args: string[], env: Record<string, string | undefined> = {}) {
    const hook = env.SPARSETRACE_TEST_HOLD !== undefined ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${HOLD_HOOK}`.trim() } : {};
    this.child = cliProcess(args, { env: { ...process.env, ...env, ...hook } });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  async waitFor(pattern: RegExp, seconds: number): Promise<void> {
    for (let waited = 0; !pattern.test(this.stderr); waited += 100) {
      if (waited > seconds * 1000) throw new Error(`no ${pattern} within ${seconds} s; stderr:\n${this.stderr}`);
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`exited before ${pattern}; stderr:\n${this.stderr}`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  async exit(seconds: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`did not exit within ${seconds} s; stderr:\n${this.stderr}`));
      }, seconds * 1000);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Stops it by SIGTERM (SIGKILL if it takes more than 30 s). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.kill('SIGTERM');
    await this.exit(30).catch(() => undefined);
  }
}
