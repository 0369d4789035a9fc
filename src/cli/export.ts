import { InputError } from '../errors.js';
import { selectRunSet, type Selection } from '../report/select.js';
import { positionCounts } from '../store/index.js';
import { warnIncomplete, withDatabase } from './database.js';
import { AtomicFile, out } from './output.js';
import { stopOnSignals } from './stopping.js';

export interface ExportArgs extends Selection {
  readonly db?: string;
  readonly out?: string;
  readonly format?: 'csv' | 'ndjson';
}

/**
 * `sparsetrace export`: per-position counts as CSV. Rows stream from SQLite
 * (`.iterate()`) in chunks, so memory stays bounded; to a file they go through
 * an AtomicFile, so a failed export (a full disk) leaves no file at all.
 */
export function exportCommand(args: ExportArgs): Promise<number> {
  return withDatabase(args.db, async (db, dbPath) => {
    const runs = selectRunSet(db, args, dbPath);
    if (runs.size > 1 && !args.all) {
      throw new InputError(`export: the selection holds ${runs.size} runs; pick one with --run ID, or export them all with --all (adds a run column)`);
    }
    const withRunColumn = args.all === true;
    warnIncomplete(runs);
    const file = args.out !== undefined ? new AtomicFile(args.out, '--out', [dbPath]) : undefined;
    const write = file ? (text: string) => file.write(text) : out;
    // Ctrl-C removes the temporary file; the loop yields between chunks so the handler can run.
    const stopping = stopOnSignals({ quit: () => file?.abandon() });
    try {
      const ndjson = args.format === 'ndjson';
      const lines: string[] = ndjson ? [] : [withRunColumn ? 'run,t,y,tau,n_x,n_h,n_y' : 't,y,tau,n_x,n_h,n_y'];
      const flush = (): void => {
        if (lines.length > 0) write(`${lines.join('\n')}\n`);
        lines.length = 0;
      };
      for (const row of positionCounts(db, runs.runIds())) {
        const { run_id, t, y, tau, n_x, n_h, n_y } = row;
        if (ndjson) {
          lines.push(JSON.stringify(withRunColumn ? { run: run_id, t, y, tau, n_x, n_h, n_y } : { t, y, tau, n_x, n_h, n_y }));
        } else {
          const fields = [t, y, tau, n_x, n_h, n_y].join(',');
          lines.push(withRunColumn ? `${run_id},${fields}` : fields);
        }
        if (lines.length >= 10_000) {
          flush();
          await new Promise((next) => setImmediate(next));
        }
      }
      flush();
      file?.commit();
    } finally {
      file?.abandon();
      stopping.dispose();
    }
    return 0;
  });
}
