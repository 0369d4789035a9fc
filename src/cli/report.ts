import { setFlagsFromString } from 'node:v8';
import { InputError } from '../errors.js';
import type { Grouping, ReportFormat, ReportSection } from '../report/choices.js';
import { formatSourcesChunks, type ReportSource } from '../report/format.js';
import { selectRunSet, type Selection } from '../report/select.js';
import { warnIncomplete, withDatabase } from './database.js';
import { log, writeOutputChunks } from './output.js';

export interface ReportArgs extends Selection {
  /** Several: the same selection in each store, compared (grouped by store first). */
  readonly db?: string | readonly string[];
  readonly format: ReportFormat;
  readonly by?: readonly Grouping[];
  readonly pool?: boolean;
  readonly sections?: readonly ReportSection[] | 'overview';
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

/**
 * Keeps V8's young generation at its first size (1 MB semi-spaces) rather than
 * letting it grow to 16 MB ones: a report of 10⁵ groups makes a few short-lived
 * objects per group, which die young either way; measured at 10⁵ groups
 * (--by window), 40 MB less anonymous memory and no more CPU. Read by V8 each
 * time it would grow the young generation, so setting it now takes effect.
 */
function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** `sparsetrace report`: the results page of a selection of runs, computed in SQL. */
export function reportCommand(args: ReportArgs): Promise<number> {
  keepYoungGenerationSmall();
  const stores = typeof args.db === 'string' || args.db === undefined ? [args.db] : [...new Set(args.db)];
  const options = { ...args, taus: parseTauFilter(args.tau), note: log, named: (args.runs?.length ?? 0) > 0 };
  // Each store opened read-only in a snapshot of its own, the next inside the last; the same selection in each.
  const compare = (k: number, sources: ReportSource[]): Promise<number> =>
    k === stores.length
      ? Promise.resolve(report(sources))
      : withDatabase(stores[k], (db, dbPath) => {
          const runs = selectRunSet(db, args, dbPath);
          warnIncomplete(runs, stores.length > 1 ? dbPath : undefined);
          return compare(k + 1, [...sources, { db, dbPath, runs }]);
        });
  const report = (sources: ReportSource[]): number => {
    // Written as gathered, a group at a time (memory does not grow with the groups); to --out atomically.
    writeOutputChunks(formatSourcesChunks(sources, options), args.out, sources.map((source) => source.dbPath));
    return 0;
  };
  return compare(0, []);
}
