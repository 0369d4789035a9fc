import { resolve } from 'node:path';
import { DEFAULT_DB, loadJobFile } from '../job/index.js';
import { expandRuns, openLockedStore, recordJobRuns } from '../jobrun/steps.js';
import { resolveQueueAddress } from '../queue/address.js';
import { DEFAULT_BATCH_COST, DEFAULT_QUEUE_NAME, DEFAULT_SERVE_LOCK_SECONDS } from '../queue/protocol.js';
import { checkSegmentsFolder } from '../queue/segments.js';
import { lockQueue } from '../queue/serveLock.js';
import { redactCommandLine } from '../redact.js';
import { closeDatabase } from '../store/index.js';
import { commandArgs, log } from './output.js';
import { checkQueue } from './queue.js';
import { stopOnSignals } from './stopping.js';

export interface ServeArgs {
  readonly job: string;
  readonly queue?: string;
  readonly queuePasswordFile?: string;
  readonly segments: string;
  readonly queueName?: string;
  readonly db?: string;
  readonly batchCost?: number;
  readonly pollMs?: number;
  readonly maxRounds?: number;
  readonly lockSeconds?: number;
}

/** `sparsetrace serve JOB --queue URL --segments DIR`: coordinates a job's runs over a Redis queue until its database holds them all. */
export async function serveCommand(args: ServeArgs): Promise<number> {
  const { coordinate } = await import('../queue/coordinator.js');
  const address = resolveQueueAddress(args);
  checkSegmentsFolder(args.segments);
  const spec = loadJobFile(args.job);
  const dbPath = args.db ?? spec.db ?? DEFAULT_DB;
  const queueName = args.queueName ?? DEFAULT_QUEUE_NAME;
  await checkQueue(address);
  const job = expandRuns(spec, log);
  const { expanded } = job;
  // One serve per queue, before the database is touched: a second one is refused (exit 1), the first goes on.
  const queueLock = await lockQueue(address, queueName, spec.name, { ttlMs: (args.lockSeconds ?? DEFAULT_SERVE_LOCK_SECONDS) * 1000, log });
  try {
    // Others read the lock's command (a refused writer, `unlock`): it is recorded without the password.
    const { db, release } = await openLockedStore(dbPath, { command: redactCommandLine(['sparsetrace', ...commandArgs()]), wait: false, log });
    try {
      const controller = new AbortController();
      queueLock.lost.addEventListener('abort', () => controller.abort());
      const stopping = stopOnSignals({
        message: (signal) => `${signal}: stopping; the database keeps every merged batch, workers keep working (restart serve to continue)`,
        stop: () => controller.abort(),
        quit: (why) => {
          // Between merges (this runs on the main thread), so no transaction is open: the lock can go,
          // and the database leaves WAL mode (readable from read-only media) as a clean exit leaves it.
          log(`serve: ${why}; the database keeps every merged batch`);
          release();
          closeDatabase(db);
          queueLock.releaseNow();
        },
      });
      try {
        const jobId = recordJobRuns(db, spec, job, resolve(args.job));
        log(`job ${jobId} (${spec.name}): ${expanded.runs.length} run${expanded.runs.length === 1 ? '' : 's'}; results in ${dbPath}, segments through ${resolve(args.segments)}`);
        const outcome = await coordinate(db, jobId, expanded, {
          address,
          queueName,
          segments: args.segments,
          batchCost: args.batchCost ?? DEFAULT_BATCH_COST,
          pollMs: args.pollMs ?? 1000,
          maxRounds: args.maxRounds ?? 3,
          stopSignal: controller.signal,
          log,
        });
        if (outcome.kind === 'done') {
          log(`job ${jobId} (${spec.name}) done: ${expanded.runs.length} run${expanded.runs.length === 1 ? '' : 's'} in ${dbPath}`);
          return 0;
        }
        // Stopped by a signal, or (exit 1) because the queue's lock went to another serve (said when it happened).
        if (outcome.kind === 'stopped') return stopping.exitCode(1);
        log(
          `sparsetrace: job ${jobId}: ${outcome.missing} run${outcome.missing === 1 ? '' : 's'} still missing after ${args.maxRounds ?? 3} reconciliation rounds; ` +
            `last failures: ${outcome.reasons.length > 0 ? outcome.reasons.join('; ') : 'none recorded'} (see the workers' output)`,
        );
        return 1;
      } finally {
        stopping.dispose();
        release();
      }
    } finally {
      // Out of WAL mode, as `run` leaves it: a copy on read-only media reads without -wal/-shm.
      closeDatabase(db);
    }
  } finally {
    await queueLock.release();
  }
}
