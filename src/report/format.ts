import { InputError } from '../errors.js';
import type { Db, RunRow } from '../store/index.js';
import { gatherReport, type Report } from './gather.js';
import { groupRuns, type Grouping } from './select.js';
import { renderCsv, renderMarkdown, renderText, type Table } from './table.js';

export type ReportFormat = 'text' | 'json' | 'md' | 'csv';
export const REPORT_FORMATS: readonly ReportFormat[] = ['text', 'json', 'md', 'csv'];

/** Cell formatting: rounded as the results page prints (for people), or full precision (CSV). */
interface Cells {
  thousands(value: number, decimals?: number): string;
  fixed(value: number | null, decimals: number): string;
  percent(value: number, decimals?: number): string;
}

const rounded: Cells = {
  thousands: (value, decimals = 0) => value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals }),
  fixed: (value, decimals) => (value === null ? '-' : value.toFixed(decimals)),
  percent: (value, decimals = 1) => `${(100 * value).toFixed(decimals)}%`,
};

const fullPrecision: Cells = {
  thousands: (value) => String(value),
  fixed: (value) => (value === null ? '' : String(value)),
  percent: (value) => String(value),
};

const { thousands, fixed, percent } = rounded;

/** τ as people write it: 1e-5, 0.01, 1, 10. */
export const formatTau = (tau: number): string => (tau < 1e-3 ? tau.toExponential() : String(tau));

/** The results page's tables. */
export function reportTables(report: Report, cells: Cells = rounded): Table[] {
  const { thousands, fixed, percent } = cells;
  const total = report.model.significant.total;
  return [
    {
      title: 'Sparsity distribution',
      columns: ['Threshold τ', 'Mean n', 'Median n', 'Min', 'Max', `n/${thousands(total)}`, 'Mean/median'],
      rows: report.sparsity.map((row) => [
        formatTau(row.tau),
        thousands(row.mean, 1),
        thousands(row.median),
        thousands(row.min),
        thousands(row.max),
        fixed(row.fraction, 3),
        row.median > 0 ? (cells === rounded ? `${(row.mean / row.median).toFixed(0)}×` : String(row.mean / row.median)) : '',
      ]),
    },
    {
      title: 'Breakdown by pattern class',
      columns: ['Threshold τ', 'Mean nx (input)', 'Mean nh (recurrent)', 'Mean ny (output)', 'Wh share'],
      rows: report.classes.map((row) => [
        formatTau(row.tau),
        thousands(row.mean_wx, 1),
        thousands(row.mean_wh, 1),
        thousands(row.mean_wy, 1),
        row.wh_share === null ? '-' : percent(row.wh_share, 0),
      ]),
    },
    {
      title: `Never-active patterns at τ = ${formatTau(report.never_active.tau)}`,
      columns: ['Class', 'Never active', 'Of', 'Share'],
      rows: (['wx', 'wh', 'wy', 'total'] as const).map((cls) => {
        const entry = report.never_active[cls];
        const label = cls === 'total' ? 'Total' : { wx: 'Wx (input)', wh: 'Wh (recurrent)', wy: 'Wy (output)' }[cls];
        return [label, thousands(entry.never), thousands(entry.of), percent(entry.never / entry.of)];
      }),
    },
    {
      title: 'Depth profile',
      columns: ['Offset d', 'Mean mass', 'Fraction of d=0'],
      rows: report.depth.map((row) => [String(row.d), fixed(row.mean_mass, 4), fixed(row.fraction, 4)]),
    },
  ];
}

function headline(report: Report): string[] {
  const s = report.model.significant;
  const lines = [
    `Q1 sparsity: ${report.runs.length} run${report.runs.length === 1 ? '' : 's'}, model ${report.model.sha256.slice(0, 12)} (H = ${report.model.hidden}), ${thousands(report.positions)} positions`,
    `Significant patterns (|w| > 0.01): ${thousands(s.total)} (Wx ${thousands(s.wx)}, Wh ${thousands(s.wh)}, Wy ${thousands(s.wy)})`,
    `bpc: ${fixed(report.bpc, 4)}`,
  ];
  const atPageTau = report.sparsity.find((row) => Math.fround(row.tau) === Math.fround(0.01));
  if (atPageTau) lines.push(`Median active patterns at τ = 0.01: ${thousands(atPageTau.median)} of ${thousands(s.total)}; mean ${thousands(atPageTau.mean, 1)}`);
  const share = report.classes.find((row) => Math.fround(row.tau) === Math.fround(0.01))?.wh_share;
  if (share !== undefined && share !== null) lines.push(`Wh share of active patterns at τ = 0.01: ${percent(share, 0)}`);
  lines.push(`Wh patterns active somewhere (τ = ${formatTau(report.never_active.tau)}): ${percent(report.wh_active_somewhere)}`);
  return lines;
}

function depthPeakLine(report: Report): string | undefined {
  const peak = report.depth_peak;
  if (!peak) return undefined;
  return `Depth peak (d ≥ 1): d = ${peak.d}, mean mass ${fixed(peak.mean_mass, 4)} (${fixed(peak.fraction, 4)} of d=0)`;
}

/** JSON for machines: full-precision numbers. */
export function reportJson(report: Report): unknown {
  return {
    runs: report.runs,
    model: report.model,
    positions: report.positions,
    bpc: report.bpc,
    sparsity: report.sparsity,
    classes: report.classes,
    never_active: report.never_active,
    wh_active_somewhere: report.wh_active_somewhere,
    depth: report.depth,
    depth_peak: report.depth_peak,
  };
}

export function formatReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(reportJson(report), null, 1)}\n`;
    case 'text':
      return [headline(report).join('\n') + '\n', ...reportTables(report).map(renderText), (depthPeakLine(report) ?? '') + '\n']
        .join('\n');
    case 'md':
      return [
        `## Q1 sparsity\n\n${headline(report).map((line) => `- ${line}`).join('\n')}\n`,
        ...reportTables(report).map(renderMarkdown),
        (depthPeakLine(report) ?? '') + '\n',
      ].join('\n');
    case 'csv':
      // One CSV section per table, separated by a blank line.
      return reportTables(report, fullPrecision).map(renderCsv).join('\n');
  }
}

export interface ReportOptions {
  readonly format: ReportFormat;
  readonly by?: Grouping;
  readonly neverTau?: number;
}

/**
 * The report of a selection of runs: the results page, or with `by` (default
 * `model` when the runs use several models) one row per group of runs.
 */
export function formatSelection(db: Db, runs: readonly RunRow[], dbPath: string, options: ReportOptions): string {
  const models = new Set(runs.map((run) => run.model_sha256));
  const by = options.by ?? (models.size > 1 ? 'model' : undefined);
  if (by === undefined) return formatReport(gatherReport(db, runs.map((run) => run.run_id), options.neverTau), options.format);
  if (by !== 'model' && models.size > 1) {
    throw new InputError(`report --by ${by}: the selected runs use ${models.size} models; add --model to pick one, or use --by model`);
  }
  const groups = groupRuns(runs, by).map((group) => ({ key: group.key, report: gatherReport(db, group.runs.map((run) => run.run_id), options.neverTau) }));
  if (options.format === 'json') {
    return `${JSON.stringify({ by, groups: groups.map((group) => ({ group: group.key, ...(reportJson(group.report) as object) })) }, null, 1)}\n`;
  }
  // One row per group: the headline figures and, per τ, mean and median n.
  const taus = [...new Set(groups.flatMap((group) => group.report.sparsity.map((row) => row.tau)))].sort((a, b) => a - b);
  const table: Table = {
    title: `Q1 sparsity by ${by} (${runs.length} runs, ${dbPath})`,
    columns: [by, 'runs', 'positions', 'bpc', ...taus.flatMap((tau) => [`mean n τ=${tau}`, `median n τ=${tau}`])],
    rows: groups.map(({ key, report }) => [
      key,
      String(report.runs.length),
      String(report.positions),
      report.bpc === null ? '' : options.format === 'csv' ? String(report.bpc) : report.bpc.toFixed(4),
      ...taus.flatMap((tau) => {
        const row = report.sparsity.find((entry) => entry.tau === tau);
        if (!row) return ['', ''];
        return [options.format === 'csv' ? String(row.mean) : row.mean.toFixed(1), String(row.median)];
      }),
    ]),
  };
  return options.format === 'csv' ? renderCsv(table) : options.format === 'md' ? renderMarkdown(table) : renderText(table);
}
