import { classCompositionSpec, depthSpec, histogramSpec, meanMedianSpec, neverActiveSpec, renderSvg, type ChartGroup } from './charts.js';
import { explanationHeadline, explanationTables, type Explanation } from './explain.js';
import { formatTau, reportTables } from './format.js';
import { thousands } from './numbers.js';
import type { Report } from './gather.js';
import type { Table } from './table.js';
import { PAGE_TAU } from '../page.js';
import type { RunFigures, SelectionProvenance } from '../store/index.js';
import { surpriseSection, type SurpriseGroup } from './surpriseHtml.js';
import { frequencySection, type FrequencyGroup } from './frequencyHtml.js';
import type { TextSection } from './text.js';
import { textSectionHtml, textStyle } from './textHtml.js';

/**
 * The results page as one self-contained HTML file: inline CSS, charts as
 * inline SVG rendered at report time, no external resource, so it opens from
 * disk anywhere; the one script, inline, is the text in colour's (textHtml.ts).
 * Every number comes from the `Report` the text and JSON formats print (and the
 * histogram and surprise queries); elements carry `data-*`
 * attributes (data-figure, data-table, data-chart, data-group) for tests and tools.
 */
export interface HtmlPage {
  /** One entry per group of runs (`--by`), or one with key null. */
  readonly groups: readonly ChartGroup[];
  readonly by?: string;
  /** What the page groups or pools that the reader did not ask for, and why (as on stderr). */
  readonly notes?: readonly string[];
  /** τ of the histogram (a τ of the runs). */
  readonly histogramTau: number;
  readonly explanation?: Explanation;
  /** Shown in the page's footer. */
  readonly source: { readonly database: string; readonly version: string; readonly generatedAt: string };
  /** Where the figures come from: jobs, models, versions, times, and the command that made the page. */
  readonly provenance?: SelectionProvenance & { readonly command: string };
  /** A sweep page's runs with their parameters beside their figures at the page's τ (the first `rows.length` of `total`). */
  readonly runs?: { readonly rows: readonly RunFigures[]; readonly total: number; readonly tau: number };
  /** Sparsity against surprise, per group, with its chart at `tau` (surpriseHtml.ts). */
  readonly surprise?: { readonly groups: readonly SurpriseGroup[]; readonly tau: number };
  /** Activation frequency, per group (frequencyHtml.ts). */
  readonly frequency?: readonly FrequencyGroup[];
  /** A one-run page's text in colour (text.ts). */
  readonly text?: TextSection;
}

/** Patterns listed in the page's explain section (`sparsetrace explain --format json` lists all). */
const EXPLAIN_ROWS = 40;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);
}

const percent = (value: number, decimals = 1): string => `${(100 * value).toFixed(decimals)}%`;
const slug = (text: string): string => text.toLowerCase().replace(/τ/g, 'tau').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const atTau = <T extends { tau: number }>(rows: readonly T[], tau: number): T | undefined => rows.find((row) => Math.fround(row.tau) === Math.fround(tau));

export function htmlTable(table: Table, id = slug(table.title ?? 'table')): string {
  const right = table.alignRight ?? table.columns.map((_, k) => k > 0);
  // A text cell may break after a comma without a space: a τ list in a group's label is one long word otherwise.
  const cell = (tag: 'th' | 'td', text: string, k: number): string =>
    right[k] ? `<${tag} class="num">${escapeHtml(text)}</${tag}>` : `<${tag}>${escapeHtml(text).replace(/,(?=\S)/g, ',<wbr>')}</${tag}>`;
  return [
    `<table data-table="${escapeHtml(id)}">`,
    table.title ? `<caption>${escapeHtml(table.title)}</caption>` : '',
    `<thead><tr>${table.columns.map((c, k) => cell('th', c, k)).join('')}</tr></thead>`,
    `<tbody>${table.rows.map((row) => `<tr>${row.map((c, k) => cell('td', c, k)).join('')}</tr>`).join('\n')}</tbody>`,
    '</table>',
  ].join('\n');
}

/** Provenance first: which jobs (with their job file's hash), models, versions and times, and the command. */
function provenanceSection(provenance: NonNullable<HtmlPage['provenance']>): string {
  const item = (term: string, html: string): string => `<dt>${term}</dt><dd>${html}</dd>`;
  const code = (text: string): string => `<code>${escapeHtml(text)}</code>`;
  return `<dl class="provenance" data-provenance>
${item('Job' + (provenance.jobs.length === 1 ? '' : 's'), provenance.jobs.map((job) => `${job.job_id} ${escapeHtml(job.name)} (job hash ${code(job.job_sha256.slice(0, 12))}${job.source ? `, ${code(job.source)}` : ''})`).join('<br>'))}
${item('Model' + (provenance.models.length === 1 ? '' : 's'), provenance.models.map((model) => `${code(model.sha256.slice(0, 12))} ${code(model.path)}`).join('<br>'))}
${item('Computed by', provenance.toolVersions.map((version) => `sparsetrace ${escapeHtml(version)}`).join(', '))}
${item('When', `${escapeHtml(provenance.firstStarted ?? '-')} to ${escapeHtml(provenance.lastFinished ?? 'not finished')}`)}
${item('Page made by', code(provenance.command))}
</dl>`;
}

/** Columns of the runs table, and how each sorts. */
const RUN_COLUMNS: readonly { readonly title: string; readonly cell: (run: RunFigures) => string; readonly sort?: (run: RunFigures) => number | string; readonly right?: boolean }[] = [
  { title: 'run', cell: (run) => run.run_id.slice(0, 12) },
  // A warm window says its burn-in (the bytes read before it).
  { title: 'window', cell: (run) => `${run.data_path.split('/').pop()}@${run.data_offset}+${run.data_length}${run.burn_in > 0 ? `, burn-in ${run.burn_in}` : ''}`, sort: (run) => `${run.data_path}\u0000${String(run.data_offset).padStart(15, '0')}` },
  { title: 'Dmax', cell: (run) => String(run.dmax), sort: (run) => run.dmax, right: true },
  { title: 'model', cell: (run) => run.model_sha256.slice(0, 12) },
  { title: 'positions', cell: (run) => thousands(run.positions ?? 0), sort: (run) => run.positions ?? 0, right: true },
  { title: 'bpc', cell: (run) => (run.bpc === null ? '-' : run.bpc.toFixed(4)), sort: (run) => run.bpc ?? -1, right: true },
  { title: 'mean n', cell: (run) => (run.mean_n === null ? '-' : thousands(run.mean_n, 1)), sort: (run) => run.mean_n ?? -1, right: true },
  { title: 'median n', cell: (run) => (run.median_n === null ? '-' : thousands(run.median_n)), sort: (run) => run.median_n ?? -1, right: true },
];

/**
 * The runs with their parameters beside their figures, sortable with no script:
 * one copy of the table per sort key, the one shown chosen by a radio button (CSS).
 */
function runsSection(runs: NonNullable<HtmlPage['runs']>): string {
  const sortable = RUN_COLUMNS.filter((column) => column.sort !== undefined);
  const ordered = (column: (typeof RUN_COLUMNS)[number] | undefined): RunFigures[] => {
    if (column?.sort === undefined) return [...runs.rows];
    const key = column.sort;
    return [...runs.rows].sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      return typeof x === 'number' && typeof y === 'number' ? y - x : String(x).localeCompare(String(y));
    });
  };
  const table = (rows: readonly RunFigures[], id: string): string =>
    htmlTable({ columns: RUN_COLUMNS.map((column) => column.title), rows: rows.map((run) => RUN_COLUMNS.map((column) => column.cell(run))), alignRight: RUN_COLUMNS.map((column) => column.right === true) }, id);
  const choices = [{ id: 'order', title: 'job order', column: undefined }, ...sortable.map((column) => ({ id: slug(column.title), title: column.title, column }))];
  const more = runs.total > runs.rows.length ? ` The first ${thousands(runs.rows.length)} of ${thousands(runs.total)} runs (\`sparsetrace runs --format json\` lists them all).` : '';
  return `<h2>Runs</h2>
<p>Each run's parameters beside its figures at τ = ${formatTau(runs.tau)} (mean and median n over its positions; bpc from its shards' sums).${more} Sort by:</p>
<div class="sorts">
${choices.map((choice, k) => `<input type="radio" name="run-sort" id="sort-${choice.id}"${k === 0 ? ' checked' : ''}><label for="sort-${choice.id}">${escapeHtml(choice.title)}</label>`).join('\n')}
${choices.map((choice) => `<div class="sorted" data-sort="${choice.id}">${table(ordered(choice.column), `runs-by-${choice.id}`)}</div>`).join('\n')}
</div>`;
}

/** A chart under its title (the seed's titles on the Q1 page), with a caption saying how to read it. */
function figure(name: string, title: string, svg: string, caption: string): string {
  return `<figure class="chart" data-chart="${name}"><h3 class="chart-title">${title}</h3>${svg}<figcaption>${caption}</figcaption></figure>`;
}

function tile(figureName: string, value: string, text: string): string {
  return `<div class="tile"><div class="big" data-figure="${figureName}">${escapeHtml(value)}</div><div>${text}</div></div>`;
}

/** The seed's "Numbers at a glance" for one report. */
function glance(report: Report): string {
  const s = report.model.significant;
  const page = atTau(report.sparsity, PAGE_TAU);
  const share = atTau(report.classes, PAGE_TAU)?.wh_share ?? null;
  return `<div class="tiles">
${tile('significant-total', thousands(s.total), 'patterns with |w| &gt; 0.01')}
${page ? tile('median-at-page-tau', thousands(page.median), `median active patterns at τ = ${PAGE_TAU}`) : ''}
${share !== null ? tile('wh-share-at-page-tau', percent(share, 0), `of active patterns are Wh (recurrent) at τ = ${PAGE_TAU}`) : ''}
${tile('wh-active-somewhere', percent(report.wh_active_somewhere), `of Wh patterns active somewhere (τ = ${formatTau(report.never_active.tau)})`)}
</div>
<p class="meta">Significant patterns by class: Wx <span data-figure="significant-wx">${thousands(s.wx)}</span>, Wh <span data-figure="significant-wh">${thousands(s.wh)}</span>, Wy <span data-figure="significant-wy">${thousands(s.wy)}</span> (of ${thousands(256 * report.model.hidden)}, ${thousands(report.model.hidden ** 2)} and ${thousands(256 * report.model.hidden)} weights).</p>`;
}

function runLine(report: Report): string {
  return `${report.runs.length} run${report.runs.length === 1 ? '' : 's'}, model <code>${report.model.sha256.slice(0, 12)}</code> (H = ${report.model.hidden}), <span data-figure="positions">${thousands(report.positions)}</span> positions, bpc <span data-figure="bpc">${report.bpc === null ? '-' : report.bpc.toFixed(4)}</span>`;
}

function keyFinding(report: Report): string {
  const page = atTau(report.sparsity, PAGE_TAU);
  if (!page) return '';
  const gap = page.median > 0 ? page.mean / page.median : null;
  const ratio = gap === null ? '' : gap >= 2 ? `, a ${gap.toFixed(0)}× gap driven by a minority of hard-to-predict positions` : ` (${gap.toFixed(1)}× the median: no heavy tail at this τ)`;
  return `<p class="finding"><b>Key finding:</b> at τ = ${PAGE_TAU}, the median prediction uses ${thousands(page.median)} patterns (${percent(page.median / report.model.significant.total, 2)} of the ${thousands(report.model.significant.total)} significant ones), but the mean is ${thousands(page.mean)}${ratio}.</p>`;
}

/** The sentence on mean and median, said only as the figures have it (mean/median at the page's τ in every group). */
function tailSentence(groups: readonly ChartGroup[]): string {
  const gaps = groups
    .map((group) => atTau(group.report.sparsity, PAGE_TAU))
    .filter((row): row is NonNullable<typeof row> => row !== undefined && row.median > 0)
    .map((row) => row.mean / row.median);
  if (gaps.length === 0) return 'As the threshold τ increases, fewer patterns survive.';
  const low = Math.min(...gaps);
  const high = Math.max(...gaps);
  const shown = low.toFixed(1) === high.toFixed(1) ? `${low.toFixed(1)}×` : `${low.toFixed(1)}× to ${high.toFixed(1)}×`;
  if (low >= 2) return `As the threshold τ increases, fewer patterns survive. Mean ≫ median (${shown} at τ = ${PAGE_TAU}) reveals a heavy-tailed distribution: most predictions are cheap, a few are expensive.`;
  if (high < 2) return `As the threshold τ increases, fewer patterns survive. At τ = ${PAGE_TAU} the mean is ${shown} the median: no heavy tail at this τ.`;
  return `As the threshold τ increases, fewer patterns survive. At τ = ${PAGE_TAU} the mean is ${shown} the median depending on the group: heavy-tailed in some groups only.`;
}

function depthFinding(report: Report): string {
  const peak = report.depth_peak;
  const base = report.depth.find((row) => row.d === 0);
  if (!peak || !base) return '';
  return `<p class="finding"><b>Peak at d = <span data-figure="depth-peak-d">${peak.d}</span>:</b> mean mass ${peak.mean_mass.toFixed(4)} against ${base.mean_mass.toFixed(4)} at d = 0 (${peak.fraction === null ? '-' : peak.fraction.toFixed(3)}× d = 0).</p>`;
}

function neverTiles(report: Report): string {
  const names = { wx: 'Wx', wh: 'Wh', wy: 'Wy' } as const;
  return `<div class="tiles">${(['wx', 'wh', 'wy'] as const)
    .map((cls) => {
      const entry = report.never_active[cls];
      return tile(`never-${cls}`, percent(entry.never / entry.of, entry.never / entry.of < 0.1 ? 1 : 0), `${names[cls]} never active (${thousands(entry.never)} / ${thousands(entry.of)})`);
    })
    .join('\n')}</div>`;
}

/** One group's tables: those of the text report, in its order. */
function groupTables(report: Report, prefix: string): string[] {
  const ids = ['sparsity', 'classes', 'never-active', 'depth'];
  return reportTables(report).map((table, k) => htmlTable(table, `${prefix}${ids[k] ?? slug(table.title ?? String(k))}`));
}

function groupSummaryTable(groups: readonly ChartGroup[], by: string): Table {
  return {
    title: `Groups by ${by}`,
    columns: [by, 'runs', 'positions', 'bpc', `median n τ=${PAGE_TAU}`, `mean n τ=${PAGE_TAU}`, `Wh share τ=${PAGE_TAU}`, 'Wh active somewhere', 'depth peak d'],
    rows: groups.map(({ key, report }) => {
      const page = atTau(report.sparsity, PAGE_TAU);
      const share = atTau(report.classes, PAGE_TAU)?.wh_share ?? null;
      return [
        key ?? '',
        String(report.runs.length),
        thousands(report.positions),
        report.bpc === null ? '-' : report.bpc.toFixed(4),
        page ? thousands(page.median) : '-',
        page ? thousands(page.mean, 1) : '-',
        share === null ? '-' : percent(share, 0),
        percent(report.wh_active_somewhere),
        report.depth_peak ? String(report.depth_peak.d) : '-',
      ];
    }),
    alignRight: [false, true, true, true, true, true, true, true, true],
  };
}

async function explainSection(explanation: Explanation): Promise<string> {
  const depth = await renderSvg(
    depthSpec(
      [
        {
          key: null,
          histogram: [],
          report: { depth: explanation.depth_mass.map((mass, d) => ({ d, mean_mass: mass, fraction: null })) } as unknown as Report,
        },
      ],
      'attribution mass at this position',
    ),
  );
  return `<section id="explain" data-explain-t="${explanation.t}">
<h2>Explaining position t = ${explanation.t}</h2>
${explanationHeadline(explanation).map((line) => `<p>${escapeHtml(line)}</p>`).join('\n')}
${explanationTables(explanation, EXPLAIN_ROWS).map((table, k) => htmlTable(table, k === 0 ? 'explain-counts' : 'explain-patterns')).join('\n')}
${figure('explain-depth', `Attribution Mass vs Backward Offset at t = ${explanation.t}`, depth, `Attribution mass against the backward offset d at t = ${explanation.t} (d = 0 marked).`)}
</section>`;
}

/** Which copy of the runs table shows: the one whose radio button is checked. */
const SORT_RULES = ['order', ...RUN_COLUMNS.filter((column) => column.sort !== undefined).map((column) => slug(column.title))]
  .map((id) => `#sort-${id}:checked ~ .sorted[data-sort="${id}"] { display: block; }`)
  .join('\n');

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 980px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 28px; margin: 8px 0 4px; } h2 { font-size: 21px; margin-top: 36px; border-bottom: 1px solid #e5e5e5; padding-bottom: 4px; }
h3 { font-size: 16px; margin-top: 24px; }
.meta { color: #555; font-size: 14px; } code { font-size: 13px; }
blockquote { border-left: 4px solid #4e79a7; margin: 16px 0; padding: 4px 16px; color: #333; background: #f5f8fb; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.tile { flex: 1 1 180px; border: 1px solid #e3e3e3; border-radius: 8px; padding: 12px 16px; background: #fcfcfc; font-size: 14px; color: #444; }
.tile .big { font-size: 30px; font-weight: 600; color: #1f4e79; margin-bottom: 4px; }
table { border-collapse: collapse; margin: 12px 0 20px; font-size: 14px; }
caption { text-align: left; font-weight: 600; padding-bottom: 6px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eee; text-align: left; } th { background: #f3f3f3; } .num { text-align: right; font-variant-numeric: tabular-nums; }
figure.chart { margin: 16px 0 24px; } figure.chart svg { max-width: 100%; height: auto; } h3.chart-title { font-size: 15px; margin: 0 0 6px; } figcaption { font-size: 13px; color: #555; margin-top: 4px; }
.provenance { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 13px; color: #333; } .provenance dt { font-weight: 600; } .provenance dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; } .sorts .sorted { display: none; overflow-x: auto; } .sorts label { margin-right: 10px; font-size: 13px; cursor: pointer; }
${SORT_RULES}
.note { background: #eef4fb; border-left: 4px solid #4e79a7; padding: 6px 12px; font-size: 14px; }
.finding { background: #fff8e6; border-left: 4px solid #f28e2b; padding: 8px 12px; }
details { margin: 8px 0 16px; } summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 40px; font-size: 12px; color: #777; }
`;

export async function renderHtml(page: HtmlPage): Promise<string> {
  const { groups } = page;
  const single = groups.length === 1 && groups[0].key === null ? groups[0].report : undefined;
  const charts = {
    meanMedian: await renderSvg(meanMedianSpec(groups)),
    classes: await renderSvg(classCompositionSpec(groups)),
    never: await renderSvg(neverActiveSpec(groups)),
    depth: await renderSvg(depthSpec(groups)),
    histogram: await renderSvg(histogramSpec(groups, page.histogramTau)),
  };
  const neverTau = formatTau(groups[0].report.never_active.tau);
  const perGroup = (render: (group: ChartGroup, prefix: string) => string): string =>
    single
      ? render(groups[0], '')
      : groups.map((group, k) => `<details ${k === 0 ? 'open' : ''} data-group="${escapeHtml(group.key ?? '')}"><summary>${escapeHtml(group.key ?? '')}</summary>\n${render(group, `g${k}-`)}\n</details>`).join('\n');
  const body = [
    `<h1>Q1: How Sparse Is the Explanation?</h1>`,
    `<p class="meta">${single ? runLine(single) : `${groups.length} groups by ${escapeHtml(page.by ?? '')}: ${groups.map((group) => `<b>${escapeHtml(group.key ?? '')}</b> (${runLine(group.report)})`).join('; ')}`}</p>`,
    ...(page.notes ?? []).map((line) => `<p class="note" data-note>${escapeHtml(line)}</p>`),
    page.provenance ? provenanceSection(page.provenance) : '',
    `<p>For each prediction the sat-rnn makes, how many of its patterns (weights) take part in the backward attribution? Every position is traced back up to D<sub>max</sub> steps and every pattern of W<sub>x</sub>, W<sub>h</sub> and W<sub>y</sub> is scored; a pattern is active at τ when its attribution exceeds τ.</p>`,
    `<h2>The Numbers at a Glance</h2>`,
    single ? glance(single) : `<div class="scroll">${htmlTable(groupSummaryTable(groups, page.by ?? 'group'), 'groups')}</div>`,
    page.runs && page.runs.total > 1 ? runsSection(page.runs) : '',
    `<h2>Sparsity Distribution</h2>`,
    `<p>${tailSentence(groups)}</p>`,
    perGroup((group, prefix) => groupTables(group.report, prefix)[0]),
    figure('mean-median', 'Mean vs Median Active Patterns', charts.meanMedian, 'Mean vs median active patterns per position against τ, both axes logarithmic (symmetric log on y, so a median of 0 shows).'),
    single ? keyFinding(single) : '',
    `<h2>Breakdown by Pattern Class</h2>`,
    perGroup((group, prefix) => groupTables(group.report, prefix)[1]),
    figure('class-composition', 'Pattern Class Composition', charts.classes, `Pattern class composition: each class's share of the mean active patterns, at every τ (τ = ${PAGE_TAU} is the seed's).`),
    `<h2>Never-Active Patterns</h2>`,
    `<p>At τ = ${neverTau}, how many of the model's patterns are never active at any position?</p>`,
    single ? neverTiles(single) : '',
    perGroup((group, prefix) => groupTables(group.report, prefix)[2]),
    figure('never-active', 'Pattern Utilization by Class', charts.never, `Patterns per class never active and active somewhere at τ = ${neverTau}.`),
    `<h2>Depth Profile</h2>`,
    `<p>The attribution mass at each backward offset d: the mean over the positions where d exists.</p>`,
    figure('depth', 'Attribution Mass vs Backward Offset', charts.depth, 'Attribution mass against the backward offset d; d = 0 is marked, with its level as a dashed line.'),
    single ? depthFinding(single) : '',
    perGroup((group, prefix) => groupTables(group.report, prefix)[3]),
    `<h2>Active Patterns per Position at τ = ${formatTau(page.histogramTau)}</h2>`,
    figure('histogram', `Positions by Active Patterns at τ = ${formatTau(page.histogramTau)}`, charts.histogram, `How many positions have n active patterns at τ = ${formatTau(page.histogramTau)}; bins double in width, positions on a log scale.`),
    page.surprise ? await surpriseSection(page.surprise.groups, page.surprise.tau, htmlTable, escapeHtml) : '',
    page.frequency ? await frequencySection(page.frequency, htmlTable, escapeHtml) : '',
    page.text ? textSectionHtml(page.text) : '',
    page.explanation ? await explainSection(page.explanation) : '',
    `<footer>sparsetrace ${escapeHtml(page.source.version)} · ${escapeHtml(page.source.database)} · ${escapeHtml(page.source.generatedAt)} · charts: Vega-Lite</footer>`,
  ];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Q1 sparsity — sparsetrace</title>
<style>${STYLE}${page.text ? textStyle(page.text) : ''}</style>
</head>
<body>
<main>
${body.filter((part) => part !== '').join('\n')}
</main>
</body>
</html>
`;
}
