import { formatTau } from '../report/format.js';
import { renderCsv, renderText, type Table } from '../report/table.js';
import { findJob, listRuns } from '../store/index.js';
import { withDatabase } from './database.js';
import { out } from './output.js';

export interface RunsArgs {
  readonly db?: string;
  /** Only this job's runs (id or name), in the job's order. */
  readonly job?: string;
  readonly format: 'text' | 'json' | 'csv';
}

/** `sparsetrace runs`: every run in the database, or those of one job (--job). */
export function runsCommand(args: RunsArgs): Promise<number> {
  return withDatabase(args.db, (db, dbPath) => {
    const runs = args.job !== undefined ? listRuns(db, findJob(db, args.job, dbPath).job_id) : listRuns(db);
    if (args.format === 'json') {
      // τ as an array of numbers, not the comma-joined text the query returns.
      out(`${JSON.stringify(runs, null, 1)}\n`);
      return 0;
    }
    // A burn-in column when a run has one (warm windows); tables of cold runs stay as they were.
    const warm = runs.some((run) => run.burn_in > 0);
    const table: Table = {
      columns: ['run', 'status', 'model', 'H', 'data', 'offset', 'length', ...(warm ? ['burn-in'] : []), 'Dmax', 'τ', 'positions', 'compute s'],
      rows: runs.map((run) => [
        run.run_id,
        run.status,
        run.model_sha256.slice(0, 12),
        String(run.hidden),
        run.data_path,
        String(run.data_offset),
        String(run.data_length),
        ...(warm ? [String(run.burn_in)] : []),
        String(run.dmax),
        run.taus.map(formatTau).join(','),
        `${run.positions_done}/${run.positions}`,
        run.compute_seconds.toFixed(2),
      ]),
      alignRight: [false, false, false, true, false, true, true, ...(warm ? [true] : []), true, false, true, true],
    };
    out(args.format === 'csv' ? renderCsv(table) : renderText(table));
    return 0;
  });
}
