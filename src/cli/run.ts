import { resolve } from 'node:path';
import { applyOverrides, defaultJob, DEFAULT_DB, expandJob, loadJobFile, type JobOverrides, type JobSpec } from '../job/index.js';
import { defaultThreads, executeRuns } from '../runner/execute.js';
import { progressReporter } from '../runner/progress.js';
import { acquireWriterLock, DatabaseBusyError, listRuns, openDatabase, recordJob, type Db } from '../store/index.js';
import { formatSelection } from '../report/format.js';
import { TOOL_VERSION } from '../version.js';
import { dbOption, defineCommand, runOptions } from './common.js';
import { log, out } from './output.js';

export interface RunArgs extends JobOverrides, ExecutionArgs {
  readonly job?: string;
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

/** How a job is computed: threads, shard size, waiting for the lock, the report at the end. */
export interface ExecutionArgs {
  readonly threads?: number;
  readonly shardSize?: number;
  readonly wait: boolean;
  readonly report: boolean;
}

/** Computes what the database lacks of a job (shared by `run` and `resume`). */
export async function runJob(spec: JobSpec, source: string | null, args: ExecutionArgs): Promise<number> {
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
      if (args.report) out(formatSelection(db, listRuns(db, jobId), dbPath, { format: 'text' }));
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


export const runCli = defineCommand({
  command: 'run [job]',
  describe: 'compute a job (default: the Q1 job on ./inputs), then print its report',
  builder: (args) =>
    runOptions(
      args
        .positional('job', { describe: 'job file (jobs/*.json); paths in it are relative to the file', type: 'string' })
        .option('model', { describe: "model file, replacing the job's models", type: 'string' })
        .option('data', { describe: "data file, replacing each data source's path", type: 'string' })
        .option('offset', { describe: 'window offset in bytes', type: 'number' })
        .option('length', { describe: 'window length in bytes', type: 'number' })
        .option('dmax', { describe: 'backward depth Dmax', type: 'number' })
        .option('tau', { describe: 'thresholds, comma-separated (e.g. 1e-3,0.01,0.1)', type: 'string' })
        .option('depth-curves', { describe: "keep every position's depth mass at every offset (depth_mass; about 16 B per position and offset), not only the sums the report needs", type: 'boolean' })
        .option('db', dbOption)
        .check((argv) => {
          for (const [flag, value, min] of [['offset', argv.offset, 0], ['length', argv.length, 2], ['dmax', argv.dmax, 0]] as const) {
            if (value !== undefined && !(Number.isSafeInteger(value) && value >= min)) throw new Error(`--${flag}: must be an integer ≥ ${min}, got ${value}`);
          }
          return true;
        })
        .epilogue(
          [
            'A job expands into runs (model × window × Dmax). What the database already holds is',
            'skipped, so running the same job again continues it (or: sparsetrace resume).',
            'Ctrl-C (SIGINT/SIGTERM) stops after the shards in flight are committed; a killed',
            'process loses at most those. One process writes a database at a time (see --wait).',
            'Example sweep: jobs/example-sweep.json.',
          ].join('\n'),
        ),
    ),
  handler: (argv) => runCommand(argv),
});
