import { InputError } from '../errors.js';
import type { Grouping, ReportFormat } from '../report/choices.js';
import { formatSelectionChunks } from '../report/format.js';
import { selectRunSet, type Selection } from '../report/select.js';
import { warnIncomplete, withDatabase } from './database.js';
import { log, writeOutputChunks } from './output.js';

export interface ReportArgs extends Selection {
  readonly db?: string;
  readonly format: ReportFormat;
  readonly by?: readonly Grouping[];
  readonly pool?: boolean;
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
    const runs = selectRunSet(db, args, dbPath);
    warnIncomplete(runs);
    // Written as gathered, a group at a time (memory does not grow with the groups); to --out atomically.
    writeOutputChunks(formatSelectionChunks(db, runs, dbPath, { ...args, taus: parseTauFilter(args.tau), note: log, named: (args.runs?.length ?? 0) > 0 }), args.out, [dbPath]);
    return 0;
  });
}
