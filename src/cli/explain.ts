import { InputError } from '../errors.js';
import { formatExplanation, gatherExplanation } from '../report/explain.js';
import { selectRuns, type Selection } from '../report/select.js';
import { openDatabase } from '../store/index.js';
import { databasePath } from './database.js';
import { writeOutput } from './output.js';

export interface ExplainArgs extends Selection {
  readonly db?: string;
  readonly t: number;
  readonly tau: number;
  readonly format: 'text' | 'json';
  readonly limit: number;
  /** Write to this file (atomically) instead of stdout. */
  readonly out?: string;
}

/** The one run an explanation is about: --run, or a selection holding a single run. */
export function explainCommand(args: ExplainArgs): number {
  const dbPath = databasePath(args.db);
  const db = openDatabase(dbPath, { readonly: true });
  try {
    const runs = selectRuns(db, args, dbPath);
    if (runs.length > 1) {
      throw new InputError(`explain: the selection holds ${runs.length} runs; pick one with --run ID (see \`sparsetrace runs\`)`);
    }
    writeOutput(formatExplanation(gatherExplanation(db, runs[0], args.t, args.tau), args.format, args.limit), args.out, [dbPath]);
    return 0;
  } finally {
    db.close();
  }
}
