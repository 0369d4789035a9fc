import { parseQueueUrl } from '../src/queue/address.js';
import { DEFAULT_QUEUE_NAME, queueTiming } from '../src/queue/protocol.js';
import { startWorker, type RunningWorker } from '../src/queue/worker.js';

export interface WorkerHereOptions {
  readonly url: string;
  readonly segments: string;
  readonly workDir: string;
  readonly lockSeconds: number;
  readonly shardSize?: number;
  readonly queueName?: string;
}

/**
 * A queue worker in this process: startWorker (src/queue/worker.ts) with one
 * thread, as `sparsetrace worker --threads 1` starts it, its log lines in
 * `stderr`. For tests of what the queue does with healthy workers; a worker
 * that is killed, signalled or whose exit is checked stays a process (Cli).
 * Cheaper than a process by a Node start and the CLI's and BullMQ's modules.
 */
export class WorkerHere {
  stderr = '';
  private readonly worker: RunningWorker;
  private stopped = false;

  constructor(options: WorkerHereOptions) {
    this.worker = startWorker({
      address: parseQueueUrl(options.url),
      queueName: options.queueName ?? DEFAULT_QUEUE_NAME,
      segments: options.segments,
      workDir: options.workDir,
      threads: 1,
      shardSize: options.shardSize,
      timing: queueTiming(options.lockSeconds),
      log: (line) => (this.stderr += `${line}\n`),
    });
  }

  /** Stops it as SIGTERM stops `sparsetrace worker`: a batch in progress goes back to the queue. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.worker.stop();
    await this.worker.closed;
  }
}
