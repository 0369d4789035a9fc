import { InputError } from '../errors.js';
import type { Db, RunRow } from '../store/index.js';
import type { Grouping, ReportFormat } from './choices.js';
import { gatherReport, type Report } from './gather.js';
import { thousands } from './numbers.js';
import { describeMix, groupRuns, matchTaus, type GroupKey } from './select.js';
import { renderCsv, renderMarkdown, renderText, type Table } from './table.js';

/** Cell formatting: rounded as the results page prints (for people), or full precision (CSV). */
interface Cells {
  thousands(value: number, decimals?: number): string;
  fixed(value: number | null, decimals: number): string;
  percent(value: number, decimals?: number): string;
}

const rounded: Cells = {
  thousands,
  fixed: (value, decimals) => (value === null ? '-' : value.toFixed(decimals)),
  percent: (value, decimals = 1) => `${(100 * value).toFixed(decimals)}%`,
};

const { fixed, percent } = rounded;

/**
 * τ with the fewest digits that identify its float32 (what the engine compares):
 * 0.01, 0.00017782794 (for the grid's 0.000177827941004), 10.
 */
export function formatTau(tau: number): string {
  const single = Math.fround(tau);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(single.toPrecision(digits));
    if (Math.fround(candidate) === single) return String(candidate);
  }
  return String(single);
}

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
        row.median > 0 ? `${(row.mean / row.median).toFixed(0)}×` : '',
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
      return renderCsv({ columns: TIDY_COLUMNS, rows: tidyRows(report) });
  }
}

/** The columns of the CSV report: one tidy table, one figure per row, that pandas reads in one call. */
const TIDY_COLUMNS = ['section', 'tau', 'd', 'class', 'measure', 'value'];

/** Every figure of a report as (section, tau, d, class, measure, value), full precision. */
function tidyRows(report: Report): string[][] {
  const rows: string[][] = [];
  const add = (section: string, tau: number | null, d: number | null, cls: string, measure: string, value: number | null): void => {
    rows.push([section, tau === null ? '' : String(tau), d === null ? '' : String(d), cls, measure, value === null ? '' : String(value)]);
  };
  const s = report.model.significant;
  add('summary', null, null, '', 'runs', report.runs.length);
  add('summary', null, null, '', 'hidden', report.model.hidden);
  add('summary', null, null, '', 'positions', report.positions);
  add('summary', null, null, '', 'bpc', report.bpc);
  for (const cls of ['wx', 'wh', 'wy', 'total'] as const) add('summary', null, null, cls, 'significant', s[cls]);
  add('summary', report.never_active.tau, null, 'wh', 'active_somewhere', report.wh_active_somewhere);
  for (const row of report.sparsity) {
    for (const measure of ['mean', 'median', 'min', 'max', 'fraction'] as const) add('sparsity', row.tau, null, '', measure, row[measure]);
  }
  for (const row of report.classes) {
    add('classes', row.tau, null, 'wx', 'mean', row.mean_wx);
    add('classes', row.tau, null, 'wh', 'mean', row.mean_wh);
    add('classes', row.tau, null, 'wy', 'mean', row.mean_wy);
    add('classes', row.tau, null, 'wh', 'share', row.wh_share);
  }
  for (const cls of ['wx', 'wh', 'wy', 'total'] as const) {
    add('never_active', report.never_active.tau, null, cls, 'never', report.never_active[cls].never);
    add('never_active', report.never_active.tau, null, cls, 'of', report.never_active[cls].of);
  }
  for (const row of report.depth) {
    add('depth', null, row.d, '', 'mean_mass', row.mean_mass);
    add('depth', null, row.d, '', 'fraction', row.fraction);
  }
  return rows;
}

export interface ReportOptions {
  readonly format: ReportFormat;
  readonly by?: Grouping;
  readonly neverTau?: number;
  /** Only these thresholds in the per-τ tables (see matchTaus). */
  readonly taus?: readonly number[];
  /** Where notes about the selection go (stderr). */
  readonly note?: (line: string) => void;
  /** The runs were named one by one (--run): pool them as asked, unless their models differ. */
  readonly explicit?: boolean;
}

/** Keeps the per-τ rows of the thresholds asked for. */
function onlyTaus(report: Report, wanted: readonly number[] | undefined): Report {
  if (wanted === undefined || wanted.length === 0) return report;
  const keep = new Set(matchTaus(report.sparsity.map((row) => row.tau), wanted));
  return { ...report, sparsity: report.sparsity.filter((row) => keep.has(row.tau)), classes: report.classes.filter((row) => keep.has(row.tau)) };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * The report of a selection of runs: the results page, or with `by` one row per
 * group of runs and τ. A selection is never averaged across what does not add up:
 * several models or Dmax values are grouped by default (said in a note), several
 * τ lists in one report or group are refused, and a mix of data files is noted.
 */
export function formatSelection(db: Db, runs: readonly RunRow[], dbPath: string, options: ReportOptions): string {
  const note = options.note ?? (() => {});
  const mix = describeMix(runs);
  let by = options.by;
  if (by === undefined && mix.models.length > 1) {
    by = 'model';
    note(`note: the selected runs use ${mix.models.length} models: one row per model (--by model); pick one with --model`);
  } else if (by === undefined && mix.dmax.length > 1 && options.explicit) {
    note(`note: pooling the named runs of Dmax ${mix.dmax.join(', ')} as asked; --by dmax separates them`);
  } else if (by === undefined && mix.dmax.length > 1) {
    by = 'dmax';
    note(`note: the selected runs use Dmax ${mix.dmax.join(', ')}: one row per Dmax (--by dmax); pick one with --dmax, or name runs with --run to pool them`);
  }
  if (by !== undefined && by !== 'model' && mix.models.length > 1) {
    throw new InputError(`report --by ${by}: the selected runs use ${mix.models.length} models; add --model to pick one, or use --by model`);
  }
  if (by !== 'window' && mix.dataFiles.length > 1) {
    note(`note: figures pool ${plural(mix.windows, 'window')} of ${plural(mix.dataFiles.length, 'data file')} (${mix.dataFiles.join(', ')}); --by window gives one row per window, --data picks a file`);
  }
  const groups = by === undefined ? [{ key: '' as GroupKey, runs: [...runs] }] : groupRuns(runs, by);
  for (const group of groups) {
    const lists = describeMix(group.runs).tauLists;
    if (lists.length > 1) {
      throw new InputError(
        `report: the selected runs${by === undefined ? '' : ` of ${by} ${group.key}`} use ${lists.length} different τ lists (${lists.map((list) => list.split(',').map(Number).map(formatTau).join(',')).join(' | ')}); ` +
          'figures per τ only compare within one list: pick runs with one (--job, --run)',
      );
    }
  }
  const gathered = groups.map((group) => ({ key: group.key, report: onlyTaus(gatherReport(db, group.runs.map((run) => run.run_id), options.neverTau), options.taus) }));
  if (by === undefined) return formatReport(gathered[0].report, options.format);
  if (options.format === 'json') {
    return `${JSON.stringify({ by, groups: gathered.map((group) => ({ group: group.key, ...(reportJson(group.report) as object) })) }, null, 1)}\n`;
  }
  if (options.format === 'csv') {
    return renderCsv({ columns: [by, ...TIDY_COLUMNS], rows: gathered.flatMap((group) => tidyRows(group.report).map((row) => [String(group.key), ...row])) });
  }
  // One row per group and τ, the group's figures on its first row: as wide as the page, however many τ.
  const table: Table = {
    title: `Q1 sparsity by ${by} (${plural(runs.length, 'run')}, ${dbPath})`,
    columns: [by === 'dmax' ? 'Dmax' : by, 'runs', 'positions', 'bpc', 'τ', 'mean n', 'median n'],
    rows: gathered.flatMap(({ key, report }) =>
      report.sparsity.map((row, k) => [
        k === 0 ? String(key) : '',
        k === 0 ? String(report.runs.length) : '',
        k === 0 ? thousands(report.positions) : '',
        k === 0 ? fixed(report.bpc, 4) : '',
        formatTau(row.tau),
        thousands(row.mean, 1),
        thousands(row.median),
      ]),
    ),
    alignRight: [by === 'dmax', true, true, true, false, true, true],
  };
  return options.format === 'md' ? renderMarkdown(table) : renderText(table);
}
