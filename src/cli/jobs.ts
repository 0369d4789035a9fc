import { renderText, type Table } from '../report/table.js';
import { withDatabase } from './database.js';
import { jobProgress } from './job-states.js';
import { out } from './output.js';

export interface JobsArgs {
  readonly db?: string;
  readonly format: 'text' | 'json';
}

/** `sparsetrace jobs`: every job of the database, oldest started first, with its runs, positions and state (as `status` gives it). */
export function jobsCommand(args: JobsArgs): Promise<number> {
  return withDatabase(args.db, (db, dbPath) => {
    const rows = jobProgress(db).jobs.map(({ job, runs, state, positions, positionsDone }) => ({
      job_id: job.job_id,
      name: job.name,
      source: job.source,
      runs: runs.length,
      runs_done: job.runs_done,
      positions,
      positions_done: positionsDone,
      state,
      created_at: job.created_at,
      last_started_at: job.last_started_at,
    }));
    if (args.format === 'json') {
      out(`${JSON.stringify(rows, null, 1)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      out(`${dbPath}: no jobs yet\n`);
      return 0;
    }
    const table: Table = {
      columns: ['job', 'name', 'source', 'runs', 'done', 'positions', 'state', 'created', 'last started'],
      rows: rows.map((row) => [
        String(row.job_id),
        row.name,
        row.source ?? '-',
        String(row.runs),
        String(row.runs_done),
        `${row.positions_done}/${row.positions}`,
        row.state,
        row.created_at,
        row.last_started_at ?? '-',
      ]),
      alignRight: [true, false, false, true, true, true, false, false, false],
    };
    out(renderText(table));
    return 0;
  });
}
