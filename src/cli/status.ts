import { formatDuration } from '../runner/duration.js';
import { renderText, type Table } from '../report/table.js';
import { findJob, recentRate } from '../store/index.js';
import { withDatabase } from './database.js';
import { jobProgress } from './job-states.js';
import { out } from './output.js';

export interface StatusArgs {
  readonly db?: string;
  /** Only this job (id or name). */
  readonly job?: string;
  readonly format: 'text' | 'json';
}

/** `sparsetrace status`: every job's runs (or one job's, --job), where each stands, and rate and ETA while a writer is live. */
export function statusCommand(args: StatusArgs): Promise<number> {
  return withDatabase(args.db, (db, dbPath) => {
    const only = args.job !== undefined ? findJob(db, args.job, dbPath).job_id : undefined;
    const progress = jobProgress(db, only);
    const writer = progress.writer;
    const jobs = progress.jobs.map(({ job, runs, states, state, positions, positionsDone, live }) => {
      const rate = live && positionsDone < positions ? recentRate(db, runs.map((run) => run.run_id)) : 0;
      return { job, runs, states, state, positions, positionsDone, rate, etaSeconds: rate > 0 ? (positions - positionsDone) / rate : null };
    });
    if (args.format === 'json') {
      out(
        `${JSON.stringify(
          {
            db: dbPath,
            writer: writer ?? null,
            jobs: jobs.map(({ job, runs, states, state, positions, positionsDone, rate, etaSeconds }) => ({
              job_id: job.job_id,
              name: job.name,
              source: job.source,
              state,
              runs: runs.length,
              runs_done: job.runs_done,
              positions,
              positions_done: positionsDone,
              rate: rate > 0 ? rate : null,
              eta_seconds: etaSeconds,
              run_states: runs.map((run, k) => ({ run_id: run.run_id, state: states[k], positions: run.positions, positions_done: run.positions_done })),
            })),
          },
          null,
          1,
        )}\n`,
      );
      return 0;
    }
    if (jobs.length === 0) {
      out(`${dbPath}: no jobs yet\n`);
      return 0;
    }
    out(writer ? `${dbPath}: being written by process ${writer.pid} on ${writer.host} (${writer.command}), since ${writer.started_at}\n` : `${dbPath}: no live writer\n`);
    // One line per job first: what a glance needs.
    // resume takes the most recent unfinished job; an earlier one needs --job.
    const lastUnfinished = progress.lastUnfinishedJobId;
    for (const { job, state, runs, positionsDone, positions, rate, etaSeconds } of jobs) {
      const percent = positions > 0 ? ` (${((100 * positionsDone) / positions).toFixed(0)}%)` : '';
      const live = state === 'running' && rate > 0 ? `, ${rate.toFixed(0)} positions/s, ETA ${formatDuration(etaSeconds ?? Number.NaN)}` : '';
      const hint = state === 'interrupted' ? `; resume with \`sparsetrace resume --db ${dbPath}${job.job_id === lastUnfinished ? '' : ` --job ${job.job_id}`}\`` : '';
      out(`job ${job.job_id} ${job.name}: ${state}, ${job.runs_done}/${runs.length} runs, ${positionsDone}/${positions} positions${percent}${live}${hint}\n`);
    }
    for (const { job, runs, states } of jobs) {
      out(`\njob ${job.job_id} ${job.name}${job.source ? ` (${job.source})` : ''}: ${job.runs_done}/${job.runs} runs done\n`);
      const table: Table = {
        columns: ['run', 'state', 'positions', 'data', 'Dmax', 'compute'],
        rows: runs.map((run, k) => [
          run.run_id,
          states[k],
          `${run.positions_done}/${run.positions}`,
          `${run.data_path}@${run.data_offset}+${run.data_length}`,
          String(run.dmax),
          formatDuration(run.compute_seconds),
        ]),
        alignRight: [false, false, true, false, true, true],
      };
      out(renderText(table).replace(/^/gm, '  '));
    }
    return 0;
  });
}
