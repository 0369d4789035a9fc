import { classify, EnvironmentError, SIGNAL_EXIT } from '../errors.js';
import { DEFAULT_DB, expandJob, type JobOverrides, type JobSpec } from '../job/index.js';
import { executeRuns, startWindows } from '../runner/execute.js';
import type { ShardPool } from '../runner/pool.js';
import { progressReporter } from '../runner/progress.js';
import { checkDatabasePath, closeDatabase, openDatabase, recordJob, RunSelection } from '../store/index.js';
import { formatSelection } from '../report/format.js';
import { TOOL_VERSION } from '../version.js';
import { lockForWriting, rememberDatabase } from './database.js';
import { STOP_SIGNALS } from './stopping.js';
import { log, onBrokenPipe, out, routeLog, shellWord } from './output.js';

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
 * `resume`). SIGINT/SIGTERM, and stdout or stderr going away (`2>&1 | head`),
 * stop it after the shards in flight are committed; the lock is always released.
 */
export async function runJobOnPool(pool: ShardPool, spec: JobSpec, source: string | null, args: ExecutionArgs): Promise<number> {
  // --db or the job file's "db", else SPARSETRACE_DB, else the default.
  const dbPath = spec.db ?? process.env.SPARSETRACE_DB ?? DEFAULT_DB;
  checkDatabasePath(dbPath);
  const expanded = expandJob(spec, log);
  const models = expanded.models.map((loaded) => loaded.model);
  // The first window's forward pass begins on the pool while this thread opens and locks the database.
  const windows = startWindows(pool, models, expanded.runs);
  const db = openDatabase(dbPath);
  if (args.rememberDb) rememberDatabase(dbPath);
  const resumeHint = `resume with \`sparsetrace resume --db ${shellWord(dbPath)}\` (or run the same job again)`;
  try {
    const release = await lockForWriting(db, dbPath, args.wait);
    const controller = new AbortController();
    let stopSignalName: string | undefined;
    let pipeBroken = false;
    const progress = progressReporter(process.stderr, expanded.runs.length, { log });
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopSignalName !== undefined) {
        // The bars go first: they give the terminal its cursor and line wrap back, and print the lines they hold.
        progress.stop();
        routeLog(undefined);
        log(`${signal} again: quitting now; committed shards are kept; ${resumeHint}`);
        // Between two statements (this is an event): no transaction is open, the lock can go.
        release();
        process.exit(SIGNAL_EXIT[signal] ?? 1);
      }
      stopSignalName = signal;
      log(`${signal}: stopping after the shards in flight are committed (send it again to quit at once)`);
      controller.abort();
    };
    const stopListening = onBrokenPipe(() => {
      // Nobody reads the output any more: stop as for Ctrl-C, quietly.
      pipeBroken = true;
      controller.abort();
    });
    // SIGHUP too: a closed terminal, or a parent that was killed.
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    routeLog(progress.log);
    try {
      const jobId = recordJob(
        db,
        { name: spec.name, sha256: expanded.sha256, source, specJson: JSON.stringify({ ...spec, db: undefined }) },
        expanded.runs,
        TOOL_VERSION,
      );
      const started = performance.now();
      let result;
      try {
        result = await executeRuns(db, models, expanded.runs, {
          threads: pool.threads,
          shardSize: args.shardSize,
          stopSignal: controller.signal,
          events: progress,
          pool,
          windows,
        });
      } catch (error) {
        const known = classify(error, `database ${dbPath}`);
        if (known instanceof EnvironmentError) throw new EnvironmentError(`${known.message}; every shard committed before is kept: fix that, then ${resumeHint}`);
        throw known ?? error;
      }
      // Nothing is left for the threads: they stop while the report is written (withPool awaits it, and sees a failure).
      pool.destroy().catch(() => {});
      progress.stop();
      routeLog(undefined);
      const seconds = (performance.now() - started) / 1000;
      if (result.stopped) {
        log(`interrupted: ${result.runsDone} of ${result.runsTotal} runs done, every committed shard is saved in ${dbPath}; ${resumeHint}`);
        return pipeBroken && stopSignalName === undefined ? 0 : (SIGNAL_EXIT[stopSignalName ?? ''] ?? 1);
      }
      const runs = `${result.runsTotal} run${result.runsTotal === 1 ? '' : 's'}`;
      log(
        result.runsAlreadyDone === result.runsTotal
          ? `job ${jobId} (${spec.name}): ${runs} already done in ${dbPath}; nothing to compute`
          : `job ${jobId} (${spec.name}) done: ${runs} in ${seconds.toFixed(2)} s, results in ${dbPath}`,
      );
      if (args.report && !pipeBroken) out(formatSelection(db, RunSelection.of(db, { jobId }), dbPath, { format: 'text', note: log }));
      return 0;
    } finally {
      progress.stop();
      routeLog(undefined);
      stopListening();
      for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
      release();
    }
  } finally {
    closeDatabase(db);
  }
}
