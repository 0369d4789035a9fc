import { formatDuration } from '../runner/duration.js';
import { renderText, type Table } from '../report/table.js';
import { liveLockHolder, listJobs, listRuns, recentRate, type RunRow } from '../store/index.js';
import { withDatabase } from './database.js';
import { out } from './output.js';

export interface StatusArgs {
  readonly db?: string;
  readonly format: 'text' | 'json';
}

type RunState = 'done' | 'running' | 'interrupted' | 'pending';

function runState(run: RunRow, live: boolean): RunState {
  if (run.status === 'done') return 'done';
  if (run.positions_done === 0) return 'pending';
  return live ? 'running' : 'interrupted';
}

/** A job's state: done, running (a live writer works on it), interrupted (some progress, no writer), pending. */
function jobState(states: readonly RunState[]): RunState {
  if (states.every((state) => state === 'done')) return 'done';
  if (states.includes('running')) return 'running';
  return states.some((state) => state !== 'pending') ? 'interrupted' : 'pending';
}

/** `sparsetrace status`: every job's runs, where each stands, and rate and ETA while a writer is live. */
export function statusCommand(args: StatusArgs): Promise<number> {
  return withDatabase(args.db, (db, dbPath) => {
    const writer = liveLockHolder(db);
    const jobs = listJobs(db).map((job, k, all) => {
      const runs = listRuns(db, job.job_id);
      // Only the most recently started job can be the live writer's.
      const live = writer !== undefined && k === all.length - 1 && runs.some((run) => run.status === 'running');
      const positionsDone = runs.reduce((sum, run) => sum + run.positions_done, 0);
      const positions = runs.reduce((sum, run) => sum + run.positions, 0);
      const rate = live && positionsDone < positions ? recentRate(db, runs.map((run) => run.run_id)) : 0;
      const states = runs.map((run) => runState(run, live));
      return { job, runs, states, state: jobState(states), positions, positionsDone, rate, etaSeconds: rate > 0 ? (positions - positionsDone) / rate : null };
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
    for (const { job, state, runs, positionsDone, positions, rate, etaSeconds } of jobs) {
      const percent = positions > 0 ? ` (${((100 * positionsDone) / positions).toFixed(0)}%)` : '';
      const live = state === 'running' && rate > 0 ? `, ${rate.toFixed(0)} positions/s, ETA ${formatDuration(etaSeconds ?? Number.NaN)}` : '';
      const hint = state === 'interrupted' ? `; resume with \`sparsetrace resume --db ${dbPath}\`` : '';
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
