import { SIGNAL_EXIT } from '../errors.js';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOCK_SECONDS, DEFAULT_QUEUE_NAME, queueTiming } from '../queue/protocol.js';
import { checkSegmentsFolder } from '../queue/segments.js';
import { defaultThreads } from '../runner/execute.js';
import { log } from './output.js';

export interface WorkerArgs {
  readonly queue: string;
  readonly segments: string;
  readonly queueName?: string;
  readonly workDir?: string;
  readonly threads?: number;
  readonly shardSize?: number;
  readonly lockSeconds?: number;
}

/** `sparsetrace worker --queue URL --segments DIR`: computes batches from the queue until stopped. */
export async function workerCommand(args: WorkerArgs): Promise<number> {
  // BullMQ and ioredis load only here: every other command starts without them.
  const { checkRedis, parseQueueUrl, QueueUnreachableError } = await import('../queue/connection.js');
  const { startWorker } = await import('../queue/worker.js');
  const address = parseQueueUrl(args.queue);
  checkSegmentsFolder(args.segments);
  try {
    await checkRedis(address, log);
  } catch (error) {
    if (!(error instanceof QueueUnreachableError)) throw error;
    log(`sparsetrace: ${error.message}`);
    return 1;
  }
  const hook = process.env.SPARSETRACE_TEST_HOLD;
  const workDir = args.workDir ?? join(tmpdir(), `sparsetrace-worker-${process.pid}`);
  const worker = startWorker({
    address,
    queueName: args.queueName ?? DEFAULT_QUEUE_NAME,
    segments: args.segments,
    workDir,
    threads: args.threads ?? defaultThreads(),
    shardSize: args.shardSize,
    timing: queueTiming(args.lockSeconds ?? DEFAULT_LOCK_SECONDS),
    log,
    ...(hook === 'mid-batch' || hook === 'after-segment' ? { holdAt: hook, holdMs: Number(process.env.SPARSETRACE_TEST_HOLD_MS ?? 60_000) } : {}),
  });
  log(`worker ${process.pid}: taking batches from queue ${args.queueName ?? DEFAULT_QUEUE_NAME} at ${address.url}`);
  let signalName: string | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalName !== undefined) process.exit(SIGNAL_EXIT[signal] ?? 1);
    signalName = signal;
    log(`${signal}: stopping; a batch in progress goes back to the queue after the shards in flight (send it again to quit at once)`);
    void worker.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await worker.closed;
  // A folder of our own is removed with what an abandoned batch left in it (nobody else resumes it).
  if (args.workDir === undefined) rmSync(workDir, { recursive: true, force: true });
  log(`worker ${process.pid}: stopped`);
  return SIGNAL_EXIT[signalName ?? ''] ?? 0;
}

/** The yargs registration of `worker`; `run` turns a handler's outcome into the exit code. */
export function workerCli(run: (handler: () => Promise<number>) => Promise<void>) {
  return {
    command: 'worker',
    describe: 'compute batches from a Redis queue (see serve) until stopped',
    builder: (args: Argv) =>
      args
        .version(false)
        .example('$0 worker --queue redis://queue-host:6379 --segments /shared/segments', 'compute batches on this machine until stopped')
        .option('queue', { describe: 'the Redis server, redis://HOST:PORT', type: 'string', demandOption: true })
        .option('segments', { describe: 'folder to write finished batches to (the one serve reads)', type: 'string', demandOption: true })
        .option('queue-name', { describe: `queue name (default ${DEFAULT_QUEUE_NAME})`, type: 'string' })
        .option('work-dir', { describe: 'local folder for the batch being computed (default: a folder in the system temp dir)', type: 'string' })
        .option('threads', { describe: 'worker threads (default: available cores)', type: 'number' })
        .option('shard-size', { describe: 'positions per shard', type: 'number' })
        .option('lock-seconds', { describe: `lock on a batch, renewed every half of it; a dead worker's batch runs again after at most twice this (default ${DEFAULT_LOCK_SECONDS})`, type: 'number' })
        .check((argv) => {
          for (const [flag, value] of [['threads', argv.threads], ['shard-size', argv.shardSize], ['lock-seconds', argv.lockSeconds]] as const) {
            if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 1)) throw new Error(`--${flag}: must be an integer ≥ 1, got ${value}`);
          }
          return true;
        })
        .epilogue(
          [
            'SIGTERM/SIGINT: the batch in progress goes back to the queue after the shards in',
            'flight; a second signal quits at once. A killed worker\'s batch runs again elsewhere.',
          ].join('\n'),
        ),
    handler: (argv: ArgumentsCamelCase<WorkerArgs>) => run(() => workerCommand(argv)),
  };
}
