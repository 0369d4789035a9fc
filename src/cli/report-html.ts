import { InputError } from '../errors.js';
import type { Grouping } from '../report/choices.js';
import { gatherExplanation, type Explanation } from '../report/explain.js';
import { gatherReport } from '../report/gather.js';
import { activeCountHistogram } from '../report/histogram.js';
import { renderHtml } from '../report/html.js';
import { groupRuns, selectRuns, type Selection } from '../report/select.js';
import { openDatabase } from '../store/index.js';
import { TOOL_VERSION } from '../version.js';
import { databasePath } from './database.js';
import { AtomicFile, log, out } from './output.js';

export interface ReportHtmlArgs extends Selection {
  readonly db?: string;
  readonly by?: Grouping;
  readonly neverTau?: number;
  readonly histTau: number;
  readonly explain?: number;
  readonly explainTau: number;
  readonly out?: string;
}

/** The τ of `taus` nearest to `wanted` on a log scale (exact float32 matches first). */
function nearestTau(taus: readonly number[], wanted: number): number {
  const exact = taus.find((tau) => Math.fround(tau) === Math.fround(wanted));
  if (exact !== undefined) return exact;
  return taus.reduce((best, tau) => (Math.abs(Math.log(tau / wanted)) < Math.abs(Math.log(best / wanted)) ? tau : best));
}

/** `report --format html`: the results page with charts, as one self-contained file. */
export async function reportHtmlCommand(args: ReportHtmlArgs): Promise<number> {
  const dbPath = databasePath(args.db);
  const db = openDatabase(dbPath, { readonly: true });
  let html: string;
  try {
    const runs = selectRuns(db, args, dbPath);
    const unfinished = runs.filter((run) => run.status !== 'done');
    if (unfinished.length > 0) log(`note: ${unfinished.length} of ${runs.length} selected runs are not finished; the page covers the positions computed so far`);
    const models = new Set(runs.map((run) => run.model_sha256));
    const by = args.by ?? (models.size > 1 ? 'model' : undefined);
    if (by !== undefined && by !== 'model' && models.size > 1) {
      throw new InputError(`report --by ${by}: the selected runs use ${models.size} models; add --model to pick one, or use --by model`);
    }
    const groupsOfRuns = by === undefined ? [{ key: null, runs }] : groupRuns(runs, by);
    const reports = groupsOfRuns.map((group) => ({ key: group.key, runIds: group.runs.map((run) => run.run_id) })).map(({ key, runIds }) => ({
      key,
      runIds,
      report: gatherReport(db, runIds, args.neverTau),
    }));
    const taus = [...new Set(reports.flatMap((group) => group.report.sparsity.map((row) => row.tau)))];
    if (taus.length === 0) throw new InputError('report: the selection holds no computed positions yet');
    const histogramTau = nearestTau(taus, args.histTau);
    if (Math.fround(histogramTau) !== Math.fround(args.histTau)) log(`note: --hist-tau ${args.histTau} is not a τ of the runs; using ${histogramTau}`);
    let explanation: Explanation | undefined;
    if (args.explain !== undefined) {
      if (runs.length > 1) throw new InputError(`--explain: the selection holds ${runs.length} runs; pick one with --run ID`);
      explanation = gatherExplanation(db, runs[0], args.explain, args.explainTau);
    }
    html = await renderHtml({
      groups: reports.map(({ key, runIds, report }) => ({ key: key === null ? null : String(key), report, histogram: activeCountHistogram(db, runIds, histogramTau) })),
      by,
      histogramTau,
      explanation,
      source: { database: dbPath, version: TOOL_VERSION, generatedAt: new Date().toISOString() },
    });
  } finally {
    db.close();
  }
  if (args.out === undefined) {
    out(html);
  } else {
    // Written atomically and checked, never over the database (output.ts).
    const file = new AtomicFile(args.out, '--out', [dbPath]);
    try {
      file.write(html);
      file.commit();
    } finally {
      file.abandon();
    }
    log(`wrote ${args.out}`);
  }
  return 0;
}
