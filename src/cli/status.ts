import { formatDuration, formatEta } from '../duration.js';
import { renderText, type Table } from '../report/table.js';
import { findJob, type LockHolder } from '../store/index.js';
import { withDatabase } from './database.js';
import { jobProgress, jobRate, RATE_WINDOW_SECONDS, type JobProgress, type JobRate, type WriterState } from './job-states.js';
import { out, shellWord } from './output.js';

export interface StatusArgs {
  readonly db?: string;
  /** Only this job (id or name). */
  readonly job?: string;
  readonly format: 'text' | 'json';
}

/** CPU seconds, to the hundredth under 10 s (a small run takes less than one), else as a duration. */
function cpuTime(seconds: number): string {
  return seconds < 60 ? `${seconds.toFixed(seconds < 10 ? 2 : 1)}s` : formatDuration(seconds);
}

/** Whether a writer's command computes jobs (run, resume, serve, worker), rather than sql --write, rm or migrate. */
function computesJobs(holder: LockHolder): boolean {
  return /^sparsetrace (run|resume|serve|worker)\b/.test(holder.command);
}

/** `sparsetrace status`: every job's runs (or one job's, --job), where each stands, and rate and ETA while a writer is live. */
export function statusCommand(args: StatusArgs): Promise<number> {
  return withDatabase(args.db, (db, dbPath) => {
    const only = args.job !== undefined ? findJob(db, args.job, dbPath).job_id : undefined;
    const progress = jobProgress(db, only);
    const writer = progress.writer;
    const jobs = progress.jobs.map((job) => ({ ...job, rate: job.live && writer.kind === 'live' ? jobRate(db, job, writer.holder) : undefined }));
    const resumeCommand = (jobId: number): string =>
      `sparsetrace resume --db ${shellWord(dbPath)}${jobId === progress.lastUnfinishedJobId ? '' : ` --job ${jobId}`}`;
    const status: Status = { dbPath, writer, jobs, lastUnfinishedJobId: progress.lastUnfinishedJobId, resumeCommand };
    if (args.format === 'json') out(statusJson(status));
    else printStatusText(status);
    return 0;
  });
}

/** A job where it stands, with its rate while the live writer computes it. */
type JobStatus = JobProgress & { readonly rate: JobRate | undefined };

/** What status shows, in either format. */
interface Status {
  readonly dbPath: string;
  readonly writer: WriterState;
  readonly jobs: readonly JobStatus[];
  readonly lastUnfinishedJobId: number | undefined;
  /** The command that resumes a job: `--job` only when resume would not take it by itself (it takes the most recent unfinished one). */
  readonly resumeCommand: (jobId: number) => string;
}

/** `--format json`: the database, its writer, every job with its runs' states. */
function statusJson({ dbPath, writer, jobs, resumeCommand }: Status): string {
  return `${JSON.stringify(
    {
      db: dbPath,
      writer: writer.kind === 'live' ? writer.holder : null,
      writer_state: writer.kind,
      gone_writer: writer.kind === 'gone' ? writer.holder : null,
      jobs: jobs.map(({ job, runs, states, state, positions, positionsDone, rate }) => ({
        job_id: job.job_id,
        name: job.name,
        source: job.source,
        state,
        runs: runs.length,
        runs_done: job.runs_done,
        positions,
        positions_done: positionsDone,
        ...rateJson(rate),
        resume: state === 'interrupted' ? resumeCommand(job.job_id) : null,
        run_states: runs.map((run, k) => ({
          run_id: run.run_id,
          state: states[k],
          positions: run.positions,
          positions_done: run.positions_done,
          worker_cpu_seconds: run.compute_seconds,
        })),
      })),
    },
    null,
    1,
  )}\n`;
}

/** A job's rate fields in JSON: all null when no live writer computes it. */
function rateJson(rate: JobRate | undefined) {
  return rate === undefined
    ? { rate: null, work_rate: null, rate_window_seconds: null, work_units: null, work_units_done: null, eta_seconds: null }
    : {
        rate: rate.positionsPerSecond > 0 ? rate.positionsPerSecond : null,
        work_rate: rate.workPerSecond > 0 ? rate.workPerSecond : null,
        rate_window_seconds: rate.windowSeconds,
        work_units: rate.workTotal,
        work_units_done: rate.workDone,
        eta_seconds: rate.etaSeconds,
      };
}

/** The text format: the writer, one line per job (what a glance needs), then each job's runs in a table. */
function printStatusText(status: Status): void {
  const { dbPath, jobs } = status;
  if (jobs.length === 0) {
    out(`${dbPath}: no jobs yet\n`);
    return;
  }
  out(writerLine(status));
  for (const job of jobs) out(jobLine(job, status.resumeCommand));
  for (const job of jobs) out(runsTable(job));
  if (jobs.some((job) => job.rate !== undefined)) {
    out(
      `\nRates: positions (and work units, positions × depth, for the ETA) in shards committed since the writer started, over at most the last ${formatDuration(RATE_WINDOW_SECONDS)}. ` +
        'Worker CPU: CPU time of the worker threads computing the run\'s shards (runs.compute_seconds).\n',
    );
  }
}

/** Who writes the database: a live process, one that is gone (and how to go on), or nobody. */
function writerLine({ dbPath, writer, lastUnfinishedJobId, resumeCommand }: Status): string {
  if (writer.kind === 'live') {
    const { pid, host, command, started_at } = writer.holder;
    return `${dbPath}: being written by process ${pid} on ${host} (${command}), since ${started_at}\n`;
  }
  if (writer.kind === 'gone') {
    // The lock names a process that no longer runs: it was killed (or its machine rebooted) in the middle of its work.
    const { pid, host, command, started_at } = writer.holder;
    const interrupted = computesJobs(writer.holder) && lastUnfinishedJobId !== undefined;
    return (
      `${dbPath}: the writer (pid ${pid} on ${host}, ${command}, since ${started_at}) is gone` +
      (interrupted ? `: its job was interrupted; resume with \`${resumeCommand(lastUnfinishedJobId as number)}\`` : '; the next writer takes its lock over') +
      '\n'
    );
  }
  return `${dbPath}: no live writer\n`;
}

/** A job at a glance: its state, runs and positions done, its rate and ETA while computed, how to resume it when interrupted. */
function jobLine({ job, state, runs, positionsDone, positions, rate }: JobStatus, resumeCommand: (jobId: number) => string): string {
  const percent = positions > 0 ? ` (${((100 * positionsDone) / positions).toFixed(0)}%)` : '';
  const speed =
    rate === undefined
      ? ''
      : rate.etaSeconds === null
        ? `, ETA unknown (no shard committed in the last ${formatDuration(rate.windowSeconds)})`
        : `, ${rate.positionsPerSecond.toFixed(rate.positionsPerSecond < 10 ? 1 : 0)} positions/s over the last ${formatDuration(rate.windowSeconds)}, ETA ${formatEta(rate.etaSeconds)}`;
  const hint = state === 'interrupted' ? `; resume with \`${resumeCommand(job.job_id)}\`` : '';
  return `job ${job.job_id} ${job.name}: ${state}, ${job.runs_done}/${runs.length} runs, ${positionsDone}/${positions} positions${percent}${speed}${hint}\n`;
}

/** A job's heading and the table of its runs, indented under it. */
function runsTable({ job, runs, states }: JobStatus): string {
  const table: Table = {
    columns: ['run', 'state', 'positions', 'data', 'Dmax', 'worker CPU'],
    rows: runs.map((run, k) => [
      run.run_id,
      states[k],
      `${run.positions_done}/${run.positions}`,
      // A warm window names its burn-in (the bytes read before it).
      `${run.data_path}@${run.data_offset}+${run.data_length}${run.burn_in > 0 ? ` burn-in ${run.burn_in}` : ''}`,
      String(run.dmax),
      cpuTime(run.compute_seconds),
    ]),
    alignRight: [false, false, true, false, true, true],
  };
  return `\njob ${job.job_id} ${job.name}${job.source ? ` (${job.source})` : ''}: ${job.runs_done}/${job.runs} runs done\n` + renderText(table).replace(/^/gm, '  ');
}
