import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { InputError } from '../errors.js';
import { selectRuns, type Selection } from '../report/select.js';
import { positionCounts } from '../store/index.js';
import { defineCommand, selectionOptions, warnIncomplete, withDatabase } from './common.js';
import { out } from './output.js';

export interface ExportArgs extends Selection {
  readonly db?: string;
  readonly out?: string;
}

/**
 * `sparsetrace export`: per-position counts as CSV. Rows stream from SQLite in chunks; to a
 * file they go through a temporary name renamed at the end, so a failed export
 * never leaves a truncated file under the name asked for.
 */
export function exportCommand(args: ExportArgs): number {
  return withDatabase(args.db, (db, dbPath) => {
    const runs = selectRuns(db, args, dbPath);
    if (runs.length > 1 && !args.all) {
      throw new InputError(`export: the selection holds ${runs.length} runs; pick one with --run ID, or export them all with --all (adds a run column)`);
    }
    const withRunColumn = args.all === true;
    warnIncomplete(runs);
    const temporary = args.out !== undefined ? `${args.out}.partial-${process.pid}` : undefined;
    let fd: number | undefined;
    try {
      if (temporary !== undefined) fd = openOutput(temporary, args.out as string);
      const lines: string[] = [withRunColumn ? 'run,t,y,tau,n_x,n_h,n_y' : 't,y,tau,n_x,n_h,n_y'];
      const flush = (): void => {
        const text = `${lines.join('\n')}\n`;
        if (fd !== undefined) writeSync(fd, text);
        else out(text);
        lines.length = 0;
      };
      for (const row of positionCounts(db, runs.map((run) => run.run_id))) {
        const fields = [row.t, row.y, row.tau, row.n_x, row.n_h, row.n_y].join(',');
        lines.push(withRunColumn ? `${row.run_id},${fields}` : fields);
        if (lines.length >= 10_000) flush();
      }
      flush();
      if (fd !== undefined) {
        closeSync(fd);
        fd = undefined;
        renameSync(temporary as string, args.out as string);
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
      if (temporary !== undefined) rmSync(temporary, { force: true });
    }
    return 0;
  });
}

function openOutput(temporary: string, path: string): number {
  try {
    return openSync(temporary, 'w');
  } catch (error) {
    throw new InputError(`--out ${path}: cannot write: ${(error as Error).message}`);
  }
}

export const exportCli = defineCommand({
  command: 'export',
  describe: 'per-position counts as CSV (t,y,tau,n_x,n_h,n_y)',
  builder: (args) =>
    selectionOptions(args)
      .option('out', { describe: 'write to this file instead of stdout', type: 'string' })
      .epilogue('Without --all the selection must be one run; --all exports every run\n(of --job, if given) with a leading run column.'),
  handler: (argv) => exportCommand({ ...argv, runs: argv.run }),
});
