import { SIGNAL_EXIT } from '../errors.js';
import { resolve } from 'node:path';
import { DEFAULT_DB, expandJob, loadJobFile } from '../job/index.js';
import { DEFAULT_BATCH_COST, DEFAULT_QUEUE_NAME } from '../queue/protocol.js';
import { checkSegmentsFolder } from '../queue/segments.js';
import { acquireWriterLock, openDatabase, recordJob } from '../store/index.js';
import { TOOL_VERSION } from '../version.js';
import { log } from './output.js';
import { redisAnswers } from './queue.js';

export interface ServeArgs {
  readonly job: string;
  readonly queue: string;
  readonly segments: string;
  readonly queueName?: string;
  readonly db?: string;
  readonly batchCost?: number;
  readonly pollMs?: number;
  readonly maxRounds?: number;
}

/** `sparsetrace serve JOB --queue URL --segments DIR`: coordinates a job's runs over a Redis queue until its database holds them all. */
export async function serveCommand(args: ServeArgs): Promise<number> {
  const { parseQueueUrl } = await import('../queue/connection.js');
  const { coordinate } = await import('../queue/coordinator.js');
  const address = parseQueueUrl(args.queue);
  checkSegmentsFolder(args.segments);
  const spec = loadJobFile(args.job);
  const dbPath = args.db ?? spec.db ?? DEFAULT_DB;
  if (!(await redisAnswers(address))) return 1;
  const expanded = expandJob(spec, log);
  const db = openDatabase(dbPath);
  try {
    const release = acquireWriterLock(db, dbPath, `sparsetrace ${process.argv.slice(2).join(' ')}`.trim(), log);
    const controller = new AbortController();
    let stopSignalName: string | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      stopSignalName = signal;
      log(`${signal}: stopping; the database keeps every merged batch, workers keep working (restart serve to continue)`);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const jobId = recordJob(
        db,
        { name: spec.name, sha256: expanded.sha256, source: resolve(args.job), specJson: JSON.stringify({ ...spec, db: undefined }) },
        expanded.runs,
        TOOL_VERSION,
      );
      log(`job ${jobId} (${spec.name}): ${expanded.runs.length} runs; results in ${dbPath}, segments through ${resolve(args.segments)}`);
      const outcome = await coordinate(db, jobId, expanded, {
        address,
        queueName: args.queueName ?? DEFAULT_QUEUE_NAME,
        segments: args.segments,
        batchCost: args.batchCost ?? DEFAULT_BATCH_COST,
        pollMs: args.pollMs ?? 1000,
        maxRounds: args.maxRounds ?? 3,
        stopSignal: controller.signal,
        log,
      });
      if (outcome.kind === 'done') {
        log(`job ${jobId} (${spec.name}) done: ${expanded.runs.length} runs in ${dbPath}`);
        return 0;
      }
      if (outcome.kind === 'stopped') return SIGNAL_EXIT[stopSignalName ?? ''] ?? 1;
      log(
        `sparsetrace: job ${jobId}: ${outcome.missing} runs still missing after ${args.maxRounds ?? 3} reconciliation rounds; ` +
          `last failures: ${outcome.reasons.length > 0 ? outcome.reasons.join('; ') : 'none recorded'} (see the workers' output)`,
      );
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      release();
    }
  } finally {
    db.close();
  }
}
