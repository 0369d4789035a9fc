import { formatDuration } from '../runner/progress.js';
import { renderText, type Table } from '../report/table.js';
import { liveLockHolder, listJobs, listRuns, recentRate, type RunRow } from '../store/index.js';
import { dbOption, defineCommand, READ_ONLY_NOTE, withDatabase } from './common.js';
import { out } from './output.js';

export interface StatusArgs {
  readonly db?: string;
}

/** `sparsetrace status`: every job's runs, where each stands, and rate and ETA while a writer is live. */
export function statusCommand(args: StatusArgs): Promise<number> {
  return withDatabase(args.db, (db, dbPath) => {
    const writer = liveLockHolder(db);
    const jobs = listJobs(db);
    if (jobs.length === 0) {
      out(`${dbPath}: no jobs yet\n`);
      return 0;
    }
    out(writer ? `${dbPath}: being written by process ${writer.pid} on ${writer.host} (${writer.command}), since ${writer.started_at}\n\n` : `${dbPath}: no live writer\n\n`);
    for (const job of jobs) {
      const runs = listRuns(db, job.job_id);
      const done = runs.reduce((sum, run) => sum + run.positions_done, 0);
      const total = runs.reduce((sum, run) => sum + run.positions, 0);
      out(`job ${job.job_id} ${job.name}${job.source ? ` (${job.source})` : ''}: ${job.runs_done}/${job.runs} runs done, ${done}/${total} positions\n`);
      const live = writer !== undefined && runs.some((run) => run.status === 'running') && job === jobs[jobs.length - 1];
      if (live && done < total) {
        const rate = recentRate(db, runs.map((run) => run.run_id));
        if (rate > 0) out(`  live: ${rate.toFixed(0)} positions/s, ETA ${formatDuration((total - done) / rate)}\n`);
      }
      const table: Table = {
        columns: ['run', 'state', 'positions', 'data', 'Dmax', 'compute'],
        rows: runs.map((run) => [
          run.run_id,
          runState(run, live),
          `${run.positions_done}/${run.positions}`,
          `${run.data_path}@${run.data_offset}+${run.data_length}`,
          String(run.dmax),
          formatDuration(run.compute_seconds),
        ]),
        alignRight: [false, false, true, false, true, true],
      };
      out(renderText(table).replace(/^/gm, '  ') + '\n');
    }
    return 0;
  });
}

function runState(run: RunRow, live: boolean): string {
  if (run.status === 'done') return 'done';
  if (run.positions_done === 0) return 'pending';
  return live ? 'running' : 'interrupted';
}

export const statusCli = defineCommand({
  command: 'status',
  describe: 'where every run stands; rate and ETA while one is live',
  builder: (args) => args.option('db', dbOption).epilogue(READ_ONLY_NOTE),
  handler: (argv) => statusCommand(argv),
});
