import { InputError } from '../errors.js';
import type { Grouping } from '../report/choices.js';
import { gatherExplanation, type Explanation } from '../report/explain.js';
import { gatherReport } from '../report/gather.js';
import { activeCountHistogram } from '../report/histogram.js';
import { renderHtml } from '../report/html.js';
import { gatherSurprise, SURPRISE_POINTS_MAX } from '../report/surprise.js';
import { gatherFrequency } from '../report/frequency.js';
import { gatherText, type TextSection } from '../report/text.js';
import { shortLabels } from '../report/labels.js';
import { groupSelection, groupValue, keyHeading, selectRuns, selectRunSet, type Selection } from '../report/select.js';
import { redactCommandLine } from '../redact.js';
import { openDatabase, PAGE_TAU, type GroupKey, type GroupKeyName } from '../store/index.js';
import { TOOL_VERSION } from '../version.js';
import { databasePath, warnIncomplete } from './database.js';
import { AtomicFile, commandArgs, log, out } from './output.js';

export interface ReportHtmlArgs extends Selection {
  readonly db?: string | readonly string[];
  readonly by?: readonly Grouping[];
  readonly pool?: boolean;
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

/** Rows of a sweep page's runs table (a page of 10⁵ rows would not open). */
const RUNS_TABLE_ROWS = 500;

/** A group's value for one key, as a page labels it ("Dmax 50", "τ 0.01,0.1", a path). */
function groupLabel(key: GroupKey, name: GroupKeyName): string {
  const value = String(groupValue(key, name));
  return name === 'dmax' ? `Dmax ${value}` : name === 'taus' ? `τ ${value}` : name === 'job' ? `job ${value}` : name === 'burn_in' ? `burn-in ${value}` : value;
}

/** `report --format html`: the results page with charts, as one self-contained file. */
export async function reportHtmlCommand(args: ReportHtmlArgs): Promise<number> {
  const dbPath = databasePath(args.db);
  const db = openDatabase(dbPath, { readonly: true });
  let html: string;
  try {
    const runs = selectRunSet(db, args, dbPath);
    warnIncomplete(runs);
    // The same groups and notes as every other format (select.ts): nothing unlike is pooled unless asked.
    const grouping = groupSelection(runs, { by: args.by, pool: args.pool, named: (args.runs?.length ?? 0) > 0 });
    for (const line of grouping.notes) log(line);
    const { keys } = grouping;
    // Labels short enough for legends and facets: each path cut to the part that tells it from the others.
    const labels = shortLabels(grouping.groups.map((group) => keys.map((name) => groupLabel(group.key, name)).join(' · ')));
    const reports = grouping.groups.map((group, k) => ({
      key: keys.length === 0 ? null : labels[k],
      group,
      report: gatherReport(db, group, args.neverTau),
    }));
    const taus = [...new Set(reports.flatMap((entry) => entry.report.sparsity.map((row) => row.tau)))];
    if (taus.length === 0) throw new InputError('report: the selection holds no computed positions yet');
    const histogramTau = nearestTau(taus, args.histTau);
    if (Math.fround(histogramTau) !== Math.fround(args.histTau)) log(`note: --hist-tau ${args.histTau} is not a τ of the runs; using ${histogramTau}`);
    let explanation: Explanation | undefined;
    if (args.explain !== undefined) {
      if (runs.size > 1) throw new InputError(`--explain: the selection holds ${runs.size} runs; pick one with --run ID`);
      const [run] = selectRuns(db, args, dbPath);
      explanation = gatherExplanation(db, run, args.explain, args.explainTau);
    }
    // Sparsity against surprise: one point per position up to SURPRISE_POINTS_MAX on the page, else 2-D histograms.
    const chartKind = reports.reduce((sum, entry) => sum + entry.report.positions, 0) <= SURPRISE_POINTS_MAX ? 'points' : 'cells';
    const surprise = reports.flatMap(({ key, group, report }) => {
      const gathered = gatherSurprise(db, group, report.sparsity.map((row) => row.tau), { tau: histogramTau, kind: chartKind });
      if (gathered.tooMany !== undefined) {
        log(`note: ${key === null ? '' : `${key}: `}${gathered.tooMany}; the page leaves it out`);
        return [];
      }
      return [{ key, positions: report.positions, surprise: gathered.report, chart: gathered.chart }];
    });
    // The text in colour: a page of one run.
    let text: TextSection | undefined;
    if (runs.size === 1) {
      const [run] = selectRuns(db, args, dbPath);
      text = gatherText(db, run, histogramTau, args.explainTau);
      for (const line of text.notes) log(`note: ${line}`);
      if (text.positions.length === 0) {
        log(`note: run ${run.run_id} keeps no per-position rows (kept as summaries): the page has no text in colour`);
        text = undefined;
      }
    }
    html = await renderHtml({
      groups: reports.map(({ key, group, report }) => ({ key, report, histogram: activeCountHistogram(db, group, histogramTau) })),
      by: keys.length === 0 ? undefined : keys.map(keyHeading).join(', '),
      notes: grouping.notes.map((line) => line.replace(/^note: /, '')),
      provenance: { ...runs.provenance(), command: redactCommandLine(['sparsetrace', ...commandArgs()]) },
      runs: { rows: runs.runFigures(Math.fround(PAGE_TAU), RUNS_TABLE_ROWS), total: runs.size, tau: PAGE_TAU },
      histogramTau,
      explanation,
      surprise: surprise.length === 0 ? undefined : { groups: surprise, tau: histogramTau },
      // Activation frequency: from each run's stored frequencies, a few hundred rows a run.
      frequency: reports.map(({ key, group, report }) => ({ key, frequency: gatherFrequency(db, group, report.model.hidden) })),
      text,
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
