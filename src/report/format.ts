import { PAGE_TAU } from '../page.js';
import type { Db, GroupKeyName, OneRunGroupCursor, RunGroup, RunSelection } from '../store/index.js';
import { REPORT_SECTIONS, type Grouping, type ReportFormat, type ReportSection } from './choices.js';
import { GroupReports, OverviewRows, withFrequency, withSurprise, type OverviewFigures, type Report } from './gather.js';
import { chunksText, TextChunks } from './textBytes.js';
import { thousands } from './numbers.js';
import { formatTau, groupingPlan, groupValue, keyHeading, matchTaus } from './select.js';
import { columnWidths, renderCsv, renderMarkdown, renderText, renderTextWithWidths, textLine, type Table } from './table.js';
import { surpriseNote, surpriseTables, surpriseTidyRows } from './surprise.js';
import { frequencyNote, frequencyTables, frequencyTidyRows } from './frequency.js';

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

export { formatTau };

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
    `Q1 sparsity: ${report.runCount} run${report.runCount === 1 ? '' : 's'}, model ${report.model.sha256.slice(0, 12)} (H = ${report.model.hidden}), ${thousands(report.positions)} positions`,
    `Significant patterns (|w| > 0.01): ${thousands(s.total)} (Wx ${thousands(s.wx)}, Wh ${thousands(s.wh)}, Wy ${thousands(s.wy)})`,
    `bpc: ${fixed(report.bpc, 4)}`,
  ];
  const atPageTau = report.sparsity.find((row) => Math.fround(row.tau) === Math.fround(PAGE_TAU));
  if (atPageTau) lines.push(`Median active patterns at τ = ${PAGE_TAU}: ${thousands(atPageTau.median)} of ${thousands(s.total)}; mean ${thousands(atPageTau.mean, 1)}`);
  const share = report.classes.find((row) => Math.fround(row.tau) === Math.fround(PAGE_TAU))?.wh_share;
  if (share !== undefined && share !== null) lines.push(`Wh share of active patterns at τ = ${PAGE_TAU}: ${percent(share, 0)}`);
  lines.push(`Wh patterns active somewhere (τ = ${formatTau(report.never_active.tau)}): ${percent(report.wh_active_somewhere)}`);
  return lines;
}

function depthPeakLine(report: Report): string | undefined {
  const peak = report.depth_peak;
  if (!peak) return undefined;
  return `Depth peak (d ≥ 1): d = ${peak.d}, mean mass ${fixed(peak.mean_mass, 4)} (${fixed(peak.fraction, 4)} of d=0)`;
}

/** JSON for machines: full-precision numbers; the keys of the sections asked for (by default every one but surprise). */
export function reportJson(report: Report, sections: readonly ReportSection[] = REPORT_SECTIONS): unknown {
  const json = {
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
    ...(report.surprise ? { surprise: report.surprise } : {}),
    ...(report.frequency ? { frequency: report.frequency } : {}),
  };
  const sectionOf: Record<keyof typeof json, ReportSection> = {
    runs: 'summary',
    model: 'summary',
    positions: 'summary',
    bpc: 'summary',
    wh_active_somewhere: 'summary',
    sparsity: 'sparsity',
    classes: 'classes',
    never_active: 'never',
    depth: 'depth',
    depth_peak: 'depth',
    surprise: 'surprise',
    frequency: 'frequency',
  };
  return Object.fromEntries(Object.entries(json).filter(([key]) => sections.includes(sectionOf[key as keyof typeof json])));
}

export function formatReport(report: Report, format: ReportFormat, sections: readonly ReportSection[] = REPORT_SECTIONS): string {
  const tables = reportTables(report);
  const tableOf: Partial<Record<ReportSection, Table>> = { sparsity: tables[0], classes: tables[1], never: tables[2], depth: tables[3] };
  const shown = (section: ReportSection): boolean => sections.includes(section);
  switch (format) {
    case 'json':
      return `${JSON.stringify(reportJson(report, sections), null, 1)}\n`;
    case 'text':
    case 'md': {
      const render = format === 'text' ? renderText : renderMarkdown;
      const summary = format === 'text' ? headline(report).join('\n') + '\n' : `## Q1 sparsity\n\n${headline(report).map((line) => `- ${line}`).join('\n')}\n`;
      const parts = [
        ...(shown('summary') ? [summary] : []),
        ...(['sparsity', 'classes', 'never', 'depth'] as const).filter(shown).map((section) => render(tableOf[section] as Table)),
        ...(shown('depth') ? [(depthPeakLine(report) ?? '') + '\n'] : []),
        ...(shown('surprise') && report.surprise ? surpriseTables(report.surprise).map(render) : []),
        ...(shown('surprise') && report.surprise && surpriseNote(report.surprise, report.positions) ? [`${surpriseNote(report.surprise, report.positions)}\n`] : []),
        ...(shown('frequency') && report.frequency ? [`${frequencyNote(report.frequency)}\n`, ...frequencyTables(report.frequency).map(render)] : []),
      ];
      return parts.join('\n');
    }
    case 'csv':
      return renderCsv({ columns: TIDY_COLUMNS, rows: tidyRows(report, sections) });
  }
}

/** The columns of the CSV report: one tidy table, one figure per row, that pandas reads in one call. */
const TIDY_COLUMNS = ['section', 'tau', 'd', 'class', 'measure', 'value'];

/** Every figure of a report's sections as (section, tau, d, class, measure, value), full precision. */
function tidyRows(report: Report, sections: readonly ReportSection[] = REPORT_SECTIONS): string[][] {
  const rows: string[][] = [];
  const add = (section: string, tau: number | null, d: number | null, cls: string, measure: string, value: number | null): void => {
    rows.push([section, tau === null ? '' : String(tau), d === null ? '' : String(d), cls, measure, value === null ? '' : String(value)]);
  };
  const s = report.model.significant;
  add('summary', null, null, '', 'runs', report.runCount);
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
  if (report.surprise) for (const row of surpriseTidyRows(report.surprise)) add('surprise', row.tau, null, row.cls, row.measure, row.value);
  if (report.frequency) for (const row of frequencyTidyRows(report.frequency)) add(row.section, row.tau, null, row.cls, row.measure, row.value);
  // Each row's section, as --sections names it.
  const sectionOf: Record<string, ReportSection> = {
    summary: 'summary', sparsity: 'sparsity', classes: 'classes', never_active: 'never', depth: 'depth', surprise: 'surprise', frequency: 'frequency', frequency_backbone: 'frequency',
  };
  return rows.filter((row) => sections.includes(sectionOf[row[0]]));
}

export interface ReportOptions {
  readonly format: ReportFormat;
  /** Group by these keys (one group per distinct value of each). */
  readonly by?: readonly Grouping[];
  /** Pool runs of different Dmax into one figure, as asked. */
  readonly pool?: boolean;
  /** The runs were named one by one (--run): pooled as asked. */
  readonly named?: boolean;
  /**
   * The sections to print, in every format. Default: REPORT_SECTIONS (all but
   * surprise); for a grouped text or Markdown report, 'overview' (one row per
   * group and τ). With sections, a grouped report prints them for every group.
   */
  readonly sections?: readonly ReportSection[] | 'overview';
  readonly neverTau?: number;
  /** Only these thresholds in the per-τ tables (see matchTaus). */
  readonly taus?: readonly number[];
  /** Where notes about the selection go (stderr). */
  readonly note?: (line: string) => void;
  /** Every group read by its own queries (gatherReport), none from the figures streamed for one-run groups, and a text overview's lines made cell by cell (textLine): what tests compare that with. */
  readonly perGroupQueries?: boolean;
  /** Groups whose rows set a text overview's column widths (default WIDTH_SAMPLE_GROUPS): tests make it small so that groups stream after it. */
  readonly widthSample?: number;
  /** Counted as the report is read, for tests: the groups a text or Markdown overview took from the rows of RunSelection.oneRunGroups. */
  readonly tally?: { oneRunRows: number };
}

/** Keeps the per-τ rows of the thresholds asked for. */
function onlyTaus(report: Report, wanted: readonly number[] | undefined): Report {
  if (wanted === undefined || wanted.length === 0) return report;
  const keep = keptTaus(report.sparsity, wanted);
  return { ...report, sparsity: report.sparsity.filter((row) => keep.has(row.tau)), classes: report.classes.filter((row) => keep.has(row.tau)) };
}

/** The τ of `rows` that --tau names (an error names a τ they lack). */
function keptTaus(rows: readonly { readonly tau: number }[], wanted: readonly number[]): Set<number> {
  return new Set(matchTaus(rows.map((row) => row.tau), wanted));
}

/** onlyTaus for an overview's figures. */
function overviewTaus(figures: OverviewFigures, wanted: readonly number[] | undefined): OverviewFigures {
  if (wanted === undefined || wanted.length === 0) return figures;
  const keep = keptTaus(figures.sparsity, wanted);
  return { ...figures, sparsity: figures.sparsity.filter((row) => keep.has(row.tau)) };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** JSON's `by` and `group`: as before for one key (a string, the key's value), an array and an object for several. */
function jsonBy(keys: readonly ReportKey[]): string | string[] {
  return keys.length === 1 ? keys[0] : [...keys];
}

/** Groups whose rows set a text table's column widths; the rest stream out as they are gathered (textLine). */
const WIDTH_SAMPLE_GROUPS = 256;

/**
 * The report of a selection of runs: the results page, or, when the selection
 * is grouped (groupSelection: asked with `by`, or because its runs differ in
 * model, Dmax or τ list), one row per group and τ.
 */
export function formatSelection(db: Db, runs: RunSelection, dbPath: string, options: ReportOptions): string {
  return chunksText(formatSelectionChunks(db, runs, dbPath, options));
}

/**
 * formatSelection as chunks of output, one group at a time: a report of 10⁵
 * groups (--by window over a large sweep) is gathered, formatted and written
 * group by group, so its memory does not grow with the number of groups.
 */
export function* formatSelectionChunks(db: Db, runs: RunSelection, dbPath: string, options: ReportOptions): Generator<string | Uint8Array> {
  yield* formatSourcesChunks([{ db, dbPath, runs }], options);
}

/** A store and its selected runs, one of the stores a report compares (report --db A --db B). */
export interface ReportSource {
  readonly db: Db;
  readonly dbPath: string;
  readonly runs: RunSelection;
}

/** A group of one store's runs, as the report formats it. */
interface SourceGroup {
  readonly db: Db;
  readonly store: string;
  readonly group: RunGroup;
  readonly reports: GroupReports;
}

/** A report key: a key of the runs (select.ts), or the store they are in when stores are compared. */
type ReportKey = GroupKeyName | 'store';

/**
 * The report of the selections of one or more stores, as chunks. With several
 * stores every group is also keyed by its store (the first column), and the
 * stores are split by the same keys (groupSelections), so that the same group
 * of two sweeps sits in rows side by side in the file.
 */
export function* formatSourcesChunks(sources: readonly ReportSource[], options: ReportOptions): Generator<string | Uint8Array> {
  // Streams the figures of groups that are one run (every format that prints depth profiles for each group reads them too).
  const depth = options.format === 'json' || options.format === 'csv' || (Array.isArray(options.sections) && options.sections.includes('depth'));
  const reports = sources.map((source) => new GroupReports(source.db, source.runs, options.neverTau, depth, options.perGroupQueries === true));
  try {
    yield* formatGroups(sources, options, reports);
  } finally {
    for (const report of reports) report.close();
  }
}

/** The first `count` items of an iterator, taken from it (the rest stay in it). */
function take<T>(items: Iterator<T>, count: number): T[] {
  const taken: T[] = [];
  for (let next = taken.length < count ? items.next() : undefined; next !== undefined && !next.done; next = taken.length < count ? items.next() : undefined) taken.push(next.value);
  return taken;
}

/** A grouped report's parts every format shares: its keys, the groups as they are read, and how a group is gathered and named. */
interface GroupedReport {
  readonly keys: readonly ReportKey[];
  /** The groups, store after store, read one at a time. */
  readonly groups: Generator<SourceGroup>;
  /** The sections of every format (text and md: the default ones, or those named). */
  readonly sections: readonly ReportSection[];
  /** A group's report, with the sections that read more (surprise, frequency) only when asked for. */
  gather(group: SourceGroup): Report;
  /** What an overview prints of a group: from its one-run figures when it is one run (GroupReports.overview), else from gather. */
  overview(group: SourceGroup): OverviewFigures;
  /** A group's value of each key, in key order. */
  values(group: SourceGroup): (string | number)[];
}

function* formatGroups(sources: readonly ReportSource[], options: ReportOptions, reports: readonly GroupReports[]): Generator<string | Uint8Array> {
  const plan = groupingPlan(
    sources.map((source) => source.runs),
    { by: options.by, pool: options.pool, named: options.named },
  );
  for (const line of plan.notes) options.note?.(line);
  const keys: ReportKey[] = sources.length > 1 ? ['store', ...plan.keys] : [...plan.keys];
  // A grouped text or Markdown overview prints no depth profile: its groups of one run read none.
  const overview = (options.format === 'text' || options.format === 'md') && keys.length > 0 && (options.sections === undefined || options.sections === 'overview');
  for (const report of reports) report.depthShown = !overview;
  const grouped = groupedReport(sources, options, reports, plan.keys, keys);
  try {
    if (keys.length === 0) {
      const [only] = take(grouped.groups, 1);
      grouped.groups.return(undefined);
      yield formatReport(grouped.gather(only), options.format, grouped.sections);
    } else if ((options.format === 'text' || options.format === 'md') && Array.isArray(options.sections)) {
      yield* sectionsOfEachGroup(grouped, options.format);
    } else if (options.format === 'json') {
      yield* jsonGroups(grouped);
    } else if (options.format === 'csv') {
      yield* csvGroups(grouped);
    } else {
      yield* overviewTable(grouped, options.format, sources, options, reports, plan.keys);
    }
  } finally {
    // The groups' statement ends with the report, also when a group's report failed (--tau naming a τ it lacks) while
    // the groups were taken outside a loop that would end it (the overview's sample): else the store cannot close.
    grouped.groups.return(undefined);
  }
}

/** The groups of the sources' selections, split by `runKeys` (and by store when `keys` says so), with how each is gathered. */
function groupedReport(
  sources: readonly ReportSource[],
  options: ReportOptions,
  reports: readonly GroupReports[],
  runKeys: readonly GroupKeyName[],
  keys: readonly ReportKey[],
): GroupedReport {
  // The groups as they are read, store after store: one group's objects at a time, however many groups.
  function* streamed(): Generator<SourceGroup> {
    for (const [k, source] of sources.entries()) {
      for (const group of source.runs.streamGroups(runKeys)) yield { db: source.db, store: source.dbPath, group, reports: reports[k] };
    }
  }
  // Surprise is computed only when asked for.
  const sections = Array.isArray(options.sections) ? (options.sections as readonly ReportSection[]) : REPORT_SECTIONS;
  const gather = ({ db, group, reports }: SourceGroup): Report =>
    withFrequency(db, group, withSurprise(db, group, onlyTaus(reports.report(group), options.taus), sections.includes('surprise')), sections.includes('frequency'));
  return {
    keys,
    groups: streamed(),
    sections,
    gather,
    overview: (entry) => {
      const figures = sections.includes('surprise') || sections.includes('frequency') ? undefined : entry.reports.overview(entry.group);
      return figures === undefined ? gather(entry) : overviewTaus(figures, options.taus);
    },
    values: (entry) => keys.map((name) => (name === 'store' ? entry.store : groupValue(entry.group.key, name))),
  };
}

const columnOf = (name: ReportKey): string => (name === 'store' ? 'store' : keyHeading(name));

/** Text or Markdown with sections named: every chosen section, group after group, under a heading naming the group. */
function* sectionsOfEachGroup(grouped: GroupedReport, format: 'text' | 'md'): Generator<string> {
  const { keys, gather, values, sections } = grouped;
  let k = 0;
  for (const group of grouped.groups) {
    const value = values(group);
    const label = keys.map((name, i) => `${columnOf(name)} ${value[i]}`).join(' · ');
    const heading = format === 'md' ? `# ${label}\n\n` : `== ${label} ==\n\n`;
    yield `${k > 0 ? '\n' : ''}${heading}${formatReport(gather(group), format, sections)}`;
    k += 1;
  }
}

/** JSON: what JSON.stringify({ by, groups }, null, 1) prints, a group at a time. */
function* jsonGroups(grouped: GroupedReport): Generator<string> {
  const { keys, gather, values, sections } = grouped;
  yield `{\n "by": ${JSON.stringify(jsonBy(keys))},\n "groups": [\n`;
  // Each group's comma goes out with the next one, so the last has none.
  let separator = '';
  for (const group of grouped.groups) {
    const value = values(group);
    const key = keys.length === 1 ? value[0] : Object.fromEntries(keys.map((name, i) => [name, value[i]]));
    const part = indented(JSON.stringify({ group: key, ...(reportJson(gather(group), sections) as object) }, null, 1));
    yield `${separator}${part}`;
    separator = ',\n';
  }
  if (separator !== '') yield '\n';
  yield ` ]\n}\n`;
}

/**
 * `text` with two spaces before each line, as `text.replace(/^/gm, '  ')` gives
 * it (a line starts after \n, \r, U+2028 or U+2029); JSON.stringify writes only
 * \n between lines, so it is split there (twice as fast on a group of 10⁵ run ids).
 */
function indented(text: string): string {
  return /[\r\u2028\u2029]/.test(text) ? text.replace(/^/gm, '  ') : `  ${text.split('\n').join('\n  ')}`;
}

/** CSV: the tidy rows of every group, the group's key values first. */
function* csvGroups(grouped: GroupedReport): Generator<string> {
  const { keys, gather, values, sections } = grouped;
  yield renderCsv({ columns: [...keys, ...TIDY_COLUMNS], rows: [] });
  for (const group of grouped.groups) {
    const value = values(group).map(String);
    yield renderCsv({ columns: [], rows: tidyRows(gather(group), sections).map((row) => [...value, ...row]) }).slice(1);
  }
}

/** One row per group and τ, the group's figures on its first row: as wide as the page, however many τ. */
function* overviewTable(
  grouped: GroupedReport,
  format: 'text' | 'md',
  sources: readonly ReportSource[],
  options: ReportOptions,
  reports: readonly GroupReports[],
  runKeys: readonly GroupKeyName[],
): Generator<string | Uint8Array> {
  const { keys } = grouped;
  const runs = sources.reduce((sum, source) => sum + source.runs.size, 0);
  const title = `Q1 sparsity by ${keys.join(', ')} (${plural(runs, 'run')}, ${sources.map((source) => source.dbPath).join(', ')})`;
  const columns = [...keys.map(columnOf), 'runs', 'positions', 'bpc', 'τ', 'mean n', 'median n'];
  const alignRight = [...keys.map((name) => name === 'dmax' || name === 'burn_in'), true, true, true, false, true, true];
  const widthSample = options.widthSample ?? WIDTH_SAMPLE_GROUPS;
  if (options.perGroupQueries === true) {
    // The reference the rest is compared with: each group's report (or overview) as cells, each line by textLine.
    const { groups } = grouped;
    const rowsOf = (group: SourceGroup): string[][] => overviewRows(grouped.overview(group), grouped.values(group));
    const sample = take(groups, widthSample).flatMap(rowsOf);
    if (format === 'md') {
      yield renderMarkdown({ title, columns, rows: sample, alignRight });
      for (const group of groups) yield markdownRows(columns, rowsOf(group), alignRight);
      return;
    }
    const widths = columnWidths(columns, sample);
    yield renderTextWithWidths({ title, columns, rows: sample, alignRight }, widths);
    for (const group of groups) yield rowsOf(group).map((row) => `${textLine(row, widths, alignRight)}\n`).join('');
    return;
  }
  const groups = new OverviewGroups(grouped, sources, options, reports, runKeys);
  try {
    const rows = new OverviewRows();
    // The first groups' rows set the text's column widths; the rest stream out as they are gathered.
    const sample: string[][] = [];
    for (let k = 0; k < widthSample; k++) {
      const values = groups.next(rows);
      if (values === undefined) break;
      sample.push(...overviewRows(rows.figures(), values));
    }
    if (format === 'md') {
      yield renderMarkdown({ title, columns, rows: sample, alignRight });
      for (let values = groups.next(rows); values !== undefined; values = groups.next(rows)) yield markdownRows(columns, overviewRows(rows.figures(), values), alignRight);
      return;
    }
    const widths = columnWidths(columns, sample);
    yield renderTextWithWidths({ title, columns, rows: sample, alignRight }, widths);
    const write = overviewLineWriter(widths, alignRight, keys.length);
    const out = new TextChunks();
    for (let values = groups.next(rows); values !== undefined; values = groups.next(rows)) {
      write(out, values, rows);
      if (out.ready) yield out.take();
    }
    if (!out.empty) yield out.take();
  } finally {
    groups.close();
  }
}

/** A group's rows of a Markdown table, without its head. */
function markdownRows(columns: readonly string[], rows: readonly (readonly string[])[], alignRight: readonly boolean[]): string {
  return renderMarkdown({ columns, rows, alignRight }).split('\n').slice(2).join('\n');
}

/**
 * The groups of a text or Markdown overview, store after store, one at a
 * time: a selection whose groups are each one run (`--by window` over a
 * sweep) from RunSelection.oneRunGroups, its runs' `run_overview` rows read
 * into OverviewRows as GroupReports.overview reads them (no TEMP table, no
 * object per τ); from the first group that cursor cannot give (or whose row
 * its report must answer for) on, and any other selection, as the report's
 * groups (GroupReports.overview or the report).
 */
class OverviewGroups {
  #source = -1;
  #cursor: OneRunGroupCursor | undefined;
  #groups: Generator<RunGroup> | undefined;
  /** The last --tau filter's τ and which it keeps (a store's groups mostly share their τ). */
  #keptFor: number[] = [];
  #kept: boolean[] = [];

  constructor(
    private readonly grouped: GroupedReport,
    private readonly sources: readonly ReportSource[],
    private readonly options: ReportOptions,
    private readonly reports: readonly GroupReports[],
    private readonly runKeys: readonly GroupKeyName[],
  ) {}

  #values: (string | number)[] = [];

  /** The next group's key values and its figures in `rows` (both until the next call); undefined after the last group. */
  next(rows: OverviewRows): (string | number)[] | undefined {
    for (;;) {
      if (this.#cursor !== undefined) {
        const entry = this.#cursor.next();
        if (entry === undefined) {
          this.#cursor = undefined;
          continue;
        }
        const { figures, positions, surprisalBits } = entry;
        if (figures !== undefined && this.reports[this.#source].stored(positions as number, surprisalBits as number, figures, rows)) {
          this.#filterTaus(rows);
          if (this.options.tally !== undefined) this.options.tally.oneRunRows += 1;
          const store = this.sources[this.#source].dbPath;
          // One array for every group (a group's values are used before the next is read).
          const values = this.#values;
          values.length = 0;
          for (const name of this.grouped.keys) values.push(name === 'store' ? store : groupValue(entry.key, name));
          return values;
        }
        this.#groups = this.#cursor.rest();
        this.#cursor = undefined;
      }
      if (this.#groups !== undefined) {
        const next = this.#groups.next();
        if (!next.done) {
          const source = this.sources[this.#source];
          const group: SourceGroup = { db: source.db, store: source.dbPath, group: next.value, reports: this.reports[this.#source] };
          rows.set(this.grouped.overview(group));
          return this.grouped.values(group);
        }
        this.#groups = undefined;
      }
      this.#source += 1;
      if (this.#source >= this.sources.length) return undefined;
      const { runs } = this.sources[this.#source];
      this.#cursor = runs.oneRunGroups(this.runKeys);
      if (this.#cursor === undefined) this.#groups = runs.streamGroups(this.runKeys);
    }
  }

  /** overviewTaus on rows: the τ --tau names (matchTaus: an error names a τ the group lacks). */
  #filterTaus(rows: OverviewRows): void {
    const wanted = this.options.taus;
    if (wanted === undefined || wanted.length === 0) return;
    const taus = Array.from(rows.tau.subarray(0, rows.count), Number);
    if (taus.length !== this.#keptFor.length || taus.some((tau, k) => tau !== this.#keptFor[k])) {
      const keep = keptTaus(taus.map((tau) => ({ tau })), wanted);
      this.#keptFor = taus;
      this.#kept = taus.map((tau) => keep.has(tau));
    }
    let k = 0;
    rows.filter(() => this.#kept[k++]);
  }

  close(): void {
    this.#cursor?.close();
    this.#groups?.return(undefined);
  }
}

/**
 * Writes a group's overview lines (overviewRows, each as textLine prints it,
 * with its \n) as bytes: the same cells, padded alike and joined by two
 * spaces; the cells left empty after a group's first row are their widths in
 * spaces. Its last cell (median n, right-aligned) never ends in a space, so
 * textLine's trim never takes anything off.
 */
function overviewLineWriter(widths: readonly number[], right: readonly boolean[], keyCount: number): (out: TextChunks, values: readonly (string | number)[], rows: OverviewRows) => void {
  // The first figures' column: those before it are the keys, runs, positions and bpc.
  const tauColumn = keyCount + 3;
  const [runsColumn, positionsColumn, bpcColumn, meanColumn, medianColumn] = [keyCount, keyCount + 1, keyCount + 2, tauColumn + 1, tauColumn + 2];
  let blank = 0;
  for (let k = 0; k < tauColumn; k++) blank += widths[k] + 2;
  // A store's τ are few: each one's padded cell is encoded once, alone (a group's first line) and after the blank
  // cells and before the two spaces that follow it (its other lines).
  const tauCells = new Map<number, { readonly cell: Uint8Array; readonly line: Uint8Array }>();
  const tauCell = (tau: number): { readonly cell: Uint8Array; readonly line: Uint8Array } => {
    let cells = tauCells.get(tau);
    if (cells === undefined) {
      const label = formatTau(tau);
      const cell = right[tauColumn] ? label.padStart(widths[tauColumn]) : label.padEnd(widths[tauColumn]);
      cells = { cell: Buffer.from(cell), line: Buffer.from(`${' '.repeat(blank)}${cell}  `) };
      if (tauCells.size < 1024) tauCells.set(tau, cells);
    }
    return cells;
  };
  const number = (out: TextChunks, value: number, decimals: 0 | 1, k: number): void => {
    if (right[k]) out.thousandsCell(value, decimals, widths[k]);
    else out.cell(thousands(value, decimals), widths[k], false);
  };
  return (out, values, rows) => {
    for (let i = 0; i < rows.count; i++) {
      if (i === 0) {
        for (let k = 0; k < values.length; k++) {
          out.cell(String(values[k]), widths[k], right[k]);
          out.spaces(2);
        }
        out.cell(String(rows.runCount), widths[runsColumn], right[runsColumn]);
        out.spaces(2);
        number(out, rows.positions, 0, positionsColumn);
        out.spaces(2);
        out.cell(fixed(rows.bpc, 4), widths[bpcColumn], right[bpcColumn]);
        out.spaces(2);
        out.bytes(tauCell(rows.tau[i]).cell);
        out.spaces(2);
      } else out.bytes(tauCell(rows.tau[i]).line);
      number(out, rows.mean[i], 1, meanColumn);
      out.spaces(2);
      number(out, rows.median[i], 0, medianColumn);
      out.byte(10);
    }
  };
}

/** A group's overview rows: its key values, runs, positions and bpc on the first, then mean and median n per τ. */
function overviewRows(report: OverviewFigures, value: readonly (string | number)[]): string[][] {
  return report.sparsity.map((row, k) => [
    ...value.map((cell) => (k === 0 ? String(cell) : '')),
    k === 0 ? String(report.runCount) : '',
    k === 0 ? thousands(report.positions) : '',
    k === 0 ? fixed(report.bpc, 4) : '',
    formatTau(row.tau),
    thousands(row.mean, 1),
    thousands(row.median),
  ]);
}
