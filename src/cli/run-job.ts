import type { JobOverrides, JobSpec } from '../job/index.js';
import { JobRun } from '../jobrun/jobRun.js';
import type { ShardPool } from '../runner/pool.js';
import { RunSelection } from '../store/index.js';
import { formatSelection } from '../report/format.js';
import { rememberDatabase } from './database.js';
import { stopOnSignals } from './stopping.js';
import { commandArgs, log, onBrokenPipe, out, routeLog, shellWord } from './output.js';

export interface RunArgs extends JobOverrides, ExecutionArgs {
  readonly job?: string;
}

/** How a job is computed: threads, shard size, waiting for the lock, the report at the end. */
export interface ExecutionArgs {
  readonly threads?: number;
  readonly shardSize?: number;
  readonly wait: boolean;
  readonly report: boolean;
  /** Record the database for later commands without --db (see databasePath). */
  readonly rememberDb?: boolean;
}

/**
 * Computes what the database lacks of a job on `pool` (shared by `run` and
 * `resume`), then prints the report. SIGINT/SIGTERM/SIGHUP, and stdout or
 * stderr going away (`2>&1 | head`), stop it after the shards in flight are
 * committed; the lock is always released.
 */
export async function runJobOnPool(pool: ShardPool, spec: JobSpec, source: string | null, args: ExecutionArgs): Promise<number> {
  const job = await JobRun.open(pool, spec, {
    source,
    shardSize: args.shardSize,
    wait: args.wait,
    command: `sparsetrace ${commandArgs().join(' ')}`.trim(),
    resumeHint,
    log,
    routeLog,
    progressTo: process.stderr,
    opened: args.rememberDb ? rememberDatabase : undefined,
  });
  const stopping = stopOnSignals({
    message: (signal) => `${signal}: stopping after the shards in flight are committed (send it again to quit at once)`,
    stop: () => job.stop(),
    quit: (why) => job.quitNow(why),
    // As long as the shards in flight take: they are committed, not lost.
    deadlineMs: null,
  });
  let pipeBroken = false;
  const stopListening = onBrokenPipe(() => {
    // Nobody reads the output any more: stop as for Ctrl-C, quietly.
    pipeBroken = true;
    job.stop();
  });
  try {
    const outcome = await job.compute();
    const dbPath = job.dbPath;
    if (outcome.kind === 'stopped') {
      log(`interrupted: ${outcome.runsDone} of ${outcome.runsTotal} runs done, every committed shard is saved in ${dbPath}; ${resumeHint(dbPath)}`);
      return pipeBroken && stopping.signal() === undefined ? 0 : stopping.exitCode(1);
    }
    const runs = `${outcome.runsTotal} run${outcome.runsTotal === 1 ? '' : 's'}`;
    log(
      outcome.alreadyDone
        ? `job ${outcome.jobId} (${spec.name}): ${runs} already done in ${dbPath}; nothing to compute`
        : `job ${outcome.jobId} (${spec.name}) done: ${runs} in ${outcome.seconds.toFixed(2)} s, results in ${dbPath}`,
    );
    if (args.report && !pipeBroken) out(formatSelection(job.db, RunSelection.of(job.db, { jobId: outcome.jobId }), dbPath, { format: 'text', note: log }));
    return 0;
  } finally {
    stopListening();
    stopping.dispose();
    job.close();
  }
}

function resumeHint(dbPath: string): string {
  return `resume with \`sparsetrace resume --db ${shellWord(dbPath)}\` (or run the same job again)`;
}
