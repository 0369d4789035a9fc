import { resolve } from 'node:path';
import { applyOverrides, defaultJob, DEFAULT_DB, expandJob, loadJobFile, type JobOverrides, type JobSpec } from '../job/index.js';
import { defaultThreads, executeRuns } from '../runner/execute.js';
import { progressReporter } from '../runner/progress.js';
import { acquireWriterLock, DatabaseBusyError, latestJob, listJobs, listRuns, openDatabase, recordJob, type Db } from '../store/index.js';
import { TOOL_VERSION } from '../version.js';
import { log } from './output.js';
import { printReport } from './inspect.js';

export interface RunArgs extends JobOverrides {
  readonly job?: string;
  readonly threads?: number;
  readonly shardSize?: number;
  readonly wait: boolean;
  readonly report: boolean;
}

/** Exit code after an interruption: 128 + the signal's number, as shells expect. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** `sparsetrace run [job]`: computes what the database lacks of a job, then prints its report. */
export async function runCommand(args: RunArgs): Promise<number> {
  const base = args.job !== undefined ? loadJobFile(args.job) : defaultJob();
  const spec = applyOverrides(base, args);
  const source = args.job !== undefined ? resolve(args.job) : null;
  return runJob(spec, source, args);
}

/** `sparsetrace resume`: continues the most recent job that is not finished. */
export async function resumeCommand(args: { db?: string; threads?: number; shardSize?: number; wait: boolean; report: boolean }): Promise<number> {
  const dbPath = args.db ?? DEFAULT_DB;
  const db = openDatabase(dbPath, { readonly: true });
  let spec: JobSpec;
  let source: string | null;
  try {
    const unfinished = listJobs(db).filter((job) => job.runs_done < job.runs);
    const job = unfinished[unfinished.length - 1];
    if (job === undefined) {
      const last = latestJob(db);
      log(last ? `nothing to resume in ${dbPath}: every job is done (last: ${last.name})` : `nothing to resume in ${dbPath}: it holds no job`);
      return 0;
    }
    spec = JSON.parse(job.spec_json) as JobSpec;
    source = job.source;
    log(`resuming job ${job.job_id} (${job.name}): ${job.runs_done} of ${job.runs} runs done`);
  } finally {
    db.close();
  }
  return runJob({ ...spec, db: dbPath }, source, args);
}

async function runJob(spec: JobSpec, source: string | null, args: { threads?: number; shardSize?: number; wait: boolean; report: boolean }): Promise<number> {
  const threads = args.threads ?? defaultThreads();
  const dbPath = spec.db ?? DEFAULT_DB;
  const expanded = expandJob(spec, log);
  const db = openDatabase(dbPath);
  try {
    const release = await lockDatabase(db, dbPath, args.wait);
    const controller = new AbortController();
    let stopSignalName: string | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopSignalName !== undefined) {
        log(`${signal} again: quitting now; committed shards are kept (resume with \`sparsetrace resume --db ${dbPath}\`)`);
        process.exit(SIGNAL_EXIT[signal] ?? 1);
      }
      stopSignalName = signal;
      log(`${signal}: stopping after the shards in flight are committed (send it again to quit at once)`);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const progress = progressReporter(process.stderr, expanded.runs.length);
    try {
      const jobId = recordJob(
        db,
        { name: spec.name, sha256: expanded.sha256, source, specJson: JSON.stringify({ ...spec, db: undefined }) },
        expanded.runs,
        TOOL_VERSION,
      );
      const started = performance.now();
      const result = await executeRuns(
        db,
        expanded.models.map((loaded) => loaded.model),
        expanded.runs,
        { threads, shardSize: args.shardSize, stopSignal: controller.signal, events: progress },
      );
      progress.stop();
      const seconds = (performance.now() - started) / 1000;
      if (result.stopped) {
        log(
          `interrupted: ${result.runsDone} of ${result.runsTotal} runs done, every committed shard is saved in ${dbPath}; ` +
            `resume with \`sparsetrace resume --db ${dbPath}\` (or run the same job again)`,
        );
        return SIGNAL_EXIT[stopSignalName ?? ''] ?? 1;
      }
      const runs = `${result.runsTotal} run${result.runsTotal === 1 ? '' : 's'}`;
      log(
        result.runsAlreadyDone === result.runsTotal
          ? `job ${jobId} (${spec.name}): ${runs} already done in ${dbPath}; nothing to compute`
          : `job ${jobId} (${spec.name}) done: ${runs} in ${seconds.toFixed(2)} s, results in ${dbPath}`,
      );
      if (args.report) printReport(db, listRuns(db, jobId), dbPath, { format: 'text' });
      return 0;
    } finally {
      progress.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      release();
    }
  } finally {
    db.close();
  }
}

async function lockDatabase(db: Db, dbPath: string, wait: boolean): Promise<() => void> {
  const command = `sparsetrace ${process.argv.slice(2).join(' ')}`.trim();
  for (let announced = false; ; ) {
    try {
      return acquireWriterLock(db, dbPath, command, log);
    } catch (error) {
      if (!(error instanceof DatabaseBusyError) || !wait) throw error;
      if (!announced) log(`${error.message}; waiting (--wait)`);
      announced = true;
      await new Promise((done) => setTimeout(done, 1000));
    }
  }
}

