import { InputError } from '../errors.js';
import type { Grouping, ReportFormat } from '../report/choices.js';
import { formatSelection } from '../report/format.js';
import { selectRuns, type Selection } from '../report/select.js';
import { warnIncomplete, withDatabase } from './database.js';
import { log, writeOutput } from './output.js';

export interface ReportArgs extends Selection {
  readonly db?: string;
  readonly format: ReportFormat;
  readonly by?: Grouping;
  readonly neverTau?: number;
  readonly tau?: string;
  /** Write to this file (atomically) instead of stdout. */
  readonly out?: string;
}

/** `--tau 0.01,0.0178`: the thresholds to show. */
function parseTauFilter(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  return text.split(',').map((part) => {
    const value = Number(part.trim());
    if (part.trim() === '' || !Number.isFinite(value) || value <= 0) throw new InputError(`--tau: ${JSON.stringify(part)} is not a threshold (a number > 0)`);
    return value;
  });
}

/** `sparsetrace report`: the results page of a selection of runs, computed in SQL. */
export function reportCommand(args: ReportArgs): Promise<number> {
  return withDatabase(args.db, (db, dbPath) => {
    const runs = selectRuns(db, args, dbPath);
    warnIncomplete(runs);
    writeOutput(formatSelection(db, runs, dbPath, { ...args, taus: parseTauFilter(args.tau), note: log, explicit: (args.runs?.length ?? 0) > 0 }), args.out, [dbPath]);
    return 0;
  });
}
