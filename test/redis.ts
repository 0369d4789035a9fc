import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether redis-server is installed (`.ci/run` installs it; SPARSETRACE_REQUIRE_REDIS=1 makes its absence a failure). */
export function redisAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The port was taken by another server before ours bound it. */
class PortTakenError extends Error {}

/**
 * A private redis-server on 127.0.0.1, AOF on (fsync always, so a SIGKILL loses
 * nothing acknowledged), in a temporary folder; stopped by pid.
 */
export class TestRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'sparsetrace-redis-'));
  private process: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    /** requirepass, when the test needs a server that asks for one. */
    readonly password?: string,
  ) {}

  /**
   * A server on a free port. Test files run two at a time: another file's server may take
   * the port between freePort and redis-server's bind, so a server that is not this one
   * (restart checks its folder) means another port.
   */
  static async start(options: { password?: string } = {}): Promise<TestRedis> {
    for (let attempt = 1; ; attempt++) {
      const redis = new TestRedis(await freePort(), options.password);
      try {
        await redis.restart();
        return redis;
      } catch (error) {
        await redis.stop();
        if (!(error instanceof PortTakenError) || attempt === 5) throw error;
      }
    }
  }

  /** Its URL, without the password. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The pid of the running server, for tests that kill it themselves. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Starts the server (again), from whatever its folder holds, and waits until it answers. */
  async restart(): Promise<void> {
    this.process = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(this.port), '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always',
        '--save', '', '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes', '--daemonize', 'no', '--loglevel', 'warning',
        ...(this.password !== undefined ? ['--requirepass', this.password] : [])],
      { stdio: 'ignore' },
    );
    for (let attempt = 0; attempt < 100; attempt++) {
      if (this.cli('PING').trim() === 'PONG') {
        // What answers on the port is this server only if it works in this server's folder.
        if (this.cli('CONFIG', 'GET', 'dir').split('\n')[1] !== realpathSync(this.dir)) throw new PortTakenError(`port ${this.port}: another redis-server answers`);
        return;
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    throw new Error(`redis-server on port ${this.port} did not answer within 10 s`);
  }

  /** One redis-cli command against this server. */
  cli(...args: string[]): string {
    const auth = this.password !== undefined ? ['--no-auth-warning', '-a', this.password] : [];
    return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...auth, ...args], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
  }

  /** Kills the server by pid with `signal` and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill(signal);
    // The bound's timer is cleared once the server is gone: left pending, it kept the test file's process alive 10 s after its last test.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((done) => (timer = setTimeout(done, 10_000)))]);
    clearTimeout(timer);
    this.process = undefined;
  }

  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
