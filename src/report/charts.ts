import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { Report } from './gather.js';
import { formatTau } from './select.js';
import type { HistogramBin } from './histogram.js';

/**
 * The results page's charts as Vega-Lite specifications, rendered at report
 * time to inline SVG (vega's headless View.toSVG needs no DOM and no network).
 * Every data mark carries an aria-label `chart|series|x|y` (the `description`
 * channel) with full-precision values, so a test can read the figures a chart
 * draws back from the page.
 */

/** A group of runs on the page; `key` is null for a page of one selection. */
export interface ChartGroup {
  readonly key: string | null;
  readonly report: Report;
  readonly histogram: readonly HistogramBin[];
}

const WIDTH = 560;
const HEIGHT = 260;
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
export const CLASS_LABELS = { wx: 'Wx (input)', wh: 'Wh (recurrent)', wy: 'Wy (output)' } as const;
export const CLASS_COLORS = ['#4e79a7', '#e15759', '#59a14f'];

const config = {
  font: FONT,
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom' as const, titleFontWeight: 'normal' as const },
  header: { labelFontSize: 12, titleFontSize: 12 },
};

/** Renders one Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vegaLite.compile({ ...spec, config: { ...config, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return withTooltips(await view.toSVG());
  } finally {
    view.finalize();
  }
}

/**
 * A tooltip on every data mark: its aria-label `chart|series|x|y` (full
 * precision) as an SVG <title>, which browsers show on hover (vega's SVG string
 * renderer writes none).
 */
export function withTooltips(svg: string): string {
  return svg.replace(/<(path|rect|circle|line|symbol)\b([^>]*?) aria-label="([^"|]*)\|([^"|]*)\|([^"|]*)\|([^"]*)"([^>]*?)\/>/g, (_, tag, before, chart, series, x, y, after) => {
    const title = `${series}: ${x} → ${y}`;
    return `<${tag}${before} aria-label="${chart}|${series}|${x}|${y}"${after}><title>${title}</title></${tag}>`;
  });
}

/** Powers of ten from the one at or below `from` to the one at or above `to`: tick values of a log axis. */
export function decades(from: number, to: number): number[] {
  const values: number[] = [];
  for (let k = Math.floor(Math.log10(from) + 1e-9); k <= Math.ceil(Math.log10(to) - 1e-9); k++) values.push(Number(`1e${k}`));
  return values;
}

const groupName = (group: ChartGroup): string => group.key ?? 'selection';
const label = (...parts: (string | number)[]): string => parts.join('|');
const grouped = (groups: readonly ChartGroup[]): boolean => groups.length > 1 || groups[0]?.key !== null;
/** Colour by group, in the page's group order (not alphabetical: "Dmax 5" before "Dmax 20"). */
const groupColor = (groups: readonly ChartGroup[]) => groupColorOf(groups.map(groupName));
/** Colour by group name (a `group` field), in the given order, with the groups' legend: every chart of groups colours them so. */
export const groupColorOf = (names: readonly string[]) => ({ field: 'group', type: 'nominal', title: null, scale: { domain: names }, sort: names, legend: groupLegend(names) });
/**
 * The legend of the groups: labels are never cut (two groups cut to one prefix
 * read the same); two columns, or one when a label is long. A legend wider than
 * its chart widens the SVG, which the page scales down to fit.
 */
const groupLegend = (names: readonly string[]) => ({ columns: Math.max(...names.map((name) => name.length)) > 30 ? 1 : 2, labelLimit: 0 });
/** Small multiples: one row per group, in the page's order, its label above it (a label turned along a short row runs into the next). */
const groupRows = (groups: readonly ChartGroup[]) => ({
  row: {
    field: 'group',
    type: 'nominal',
    title: null,
    sort: groups.map(groupName),
    header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelAlign: 'left', labelFontWeight: 'bold', labelLimit: 0 },
  },
});

/** Mean and median active patterns per position against τ, both on log scales (symlog on y so a median of 0 shows). */
export function meanMedianSpec(groups: readonly ChartGroup[]): TopLevelSpec {
  const values = groups.flatMap((group) =>
    group.report.sparsity.flatMap((row) =>
      (['mean', 'median'] as const).map((statistic) => ({
        group: groupName(group),
        statistic,
        tau: row.tau,
        n: row[statistic],
        label: label('mean-median', `${groupName(group)}:${statistic}`, row.tau, row[statistic]),
      })),
    ),
  );
  const many = grouped(groups);
  const taus = values.map((row) => row.tau);
  const minTau = Math.min(...taus);
  const maxTau = Math.max(...taus);
  const maxN = Math.max(1, ...values.map((row) => row.n));
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: 'line', point: { size: 45, filled: true }, strokeWidth: 2 },
    encoding: {
      x: { field: 'tau', type: 'quantitative', scale: { type: 'log' }, title: 'threshold τ (log scale)', axis: { values: decades(minTau, maxTau), format: '~g' } },
      y: { field: 'n', type: 'quantitative', scale: { type: 'symlog' }, title: 'active patterns per position (log scale)', axis: { values: [0, ...decades(1, maxN)], format: ',d' } },
      color: many
        ? groupColor(groups)
        : { field: 'statistic', type: 'nominal', title: null, scale: { domain: ['mean', 'median'], range: ['#e15759', '#4e79a7'] } },
      ...(many ? { strokeDash: { field: 'statistic', type: 'nominal', title: null, legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 300, encode: { symbols: { update: { stroke: { value: '#555' } } } } } } } : {}),
      description: { field: 'label' },
    },
  } as TopLevelSpec;
}

/** Share of each class among the active patterns at every τ (stacked to 100%), the seed's class composition. */
export function classCompositionSpec(groups: readonly ChartGroup[]): TopLevelSpec {
  const values = groups.flatMap((group) =>
    group.report.classes
      .filter((row) => row.mean_wx + row.mean_wh + row.mean_wy > 0)
      .flatMap((row) =>
        (['wx', 'wh', 'wy'] as const).map((cls, order) => ({
          group: groupName(group),
          tau: formatTau(row.tau),
          tauValue: row.tau,
          cls: CLASS_LABELS[cls],
          order,
          mean: row[`mean_${cls}`],
          label: label('class-composition', `${groupName(group)}:${cls}`, row.tau, row[`mean_${cls}`]),
        })),
      ),
  );
  return {
    data: { values },
    ...(grouped(groups) ? { facet: groupRows(groups), spec: classBars() } : classBars()),
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;

  function classBars() {
    return {
      width: WIDTH - 60,
      height: { step: 22 },
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'tau', type: 'ordinal', sort: { field: 'tauValue' }, title: 'threshold τ' },
        x: { field: 'mean', type: 'quantitative', stack: 'normalize', title: 'share of the mean active patterns', axis: { format: '.0%' } },
        color: { field: 'cls', type: 'nominal', title: null, scale: { domain: Object.values(CLASS_LABELS), range: CLASS_COLORS } },
        order: { field: 'order' },
        description: { field: 'label' },
      },
    };
  }
}

/** Never-active and active-somewhere patterns per class at the report's never-τ. */
export function neverActiveSpec(groups: readonly ChartGroup[]): TopLevelSpec {
  const values = groups.flatMap((group) =>
    (['wx', 'wh', 'wy'] as const).flatMap((cls) => {
      const entry = group.report.never_active[cls];
      return [
        { group: groupName(group), cls: CLASS_LABELS[cls], status: 'never active', order: 0, patterns: entry.never, label: label('never-active', `${groupName(group)}:${cls}:never`, cls, entry.never) },
        {
          group: groupName(group),
          cls: CLASS_LABELS[cls],
          status: 'active somewhere',
          order: 1,
          patterns: entry.of - entry.never,
          label: label('never-active', `${groupName(group)}:${cls}:active`, cls, entry.of - entry.never),
        },
      ];
    }),
  );
  const bars = {
    width: WIDTH - 60,
    height: { step: 28 },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'cls', type: 'nominal', title: null, sort: Object.values(CLASS_LABELS) },
      x: { field: 'patterns', type: 'quantitative', title: 'patterns', axis: { format: ',d', tickCount: 8 } }, // 17 ticks of "34,000" overlap
      color: { field: 'status', type: 'nominal', title: null, scale: { domain: ['never active', 'active somewhere'], range: ['#bab0ac', '#f28e2b'] } },
      order: { field: 'order' },
      description: { field: 'label' },
    },
  };
  return { data: { values }, ...(grouped(groups) ? { facet: groupRows(groups), spec: bars } : bars) } as TopLevelSpec;
}

/** Mean attribution mass against the backward offset d, with d = 0 marked (a point and its level as a dashed rule). */
export function depthSpec(groups: readonly ChartGroup[], title = 'mean attribution mass'): TopLevelSpec {
  const values = groups.flatMap((group) =>
    group.report.depth.map((row) => ({ group: groupName(group), d: row.d, mass: row.mean_mass, label: label('depth', groupName(group), row.d, row.mean_mass) })),
  );
  const base = values.filter((row) => row.d === 0).map((row) => ({ ...row, label: label('depth-d0', row.group, 0, row.mass), text: 'd = 0' }));
  const many = grouped(groups);
  const color = many ? groupColor(groups) : { value: '#4e79a7' };
  return {
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values },
        mark: { type: 'line', strokeWidth: 2, point: { size: 18, filled: true } },
        encoding: {
          x: { field: 'd', type: 'quantitative', title: 'backward offset d' },
          y: { field: 'mass', type: 'quantitative', title },
          color,
          description: { field: 'label' },
        },
      },
      {
        data: { values: base },
        mark: { type: 'rule', strokeDash: [4, 4], color: '#e15759' },
        encoding: { y: { field: 'mass', type: 'quantitative' } },
      },
      {
        data: { values: base },
        mark: { type: 'point', shape: 'diamond', size: 120, filled: true, color: '#e15759' },
        encoding: { x: { field: 'd', type: 'quantitative' }, y: { field: 'mass', type: 'quantitative' }, description: { field: 'label' } },
      },
      {
        data: { values: base.slice(0, 1) },
        mark: { type: 'text', align: 'left', dx: 8, dy: -10, fontSize: 11, color: '#e15759' },
        encoding: { x: { field: 'd', type: 'quantitative' }, y: { field: 'mass', type: 'quantitative' }, text: { field: 'text' } },
      },
    ],
  } as TopLevelSpec;
}

/** Positions per bin of active patterns at one τ; bins double, positions on a log scale. */
export function histogramSpec(groups: readonly ChartGroup[], tau: number): TopLevelSpec {
  const values = groups.flatMap((group) =>
    group.histogram
      .filter((bin) => bin.positions > 0)
      .map((bin) => ({ group: groupName(group), bin: bin.label, from: bin.from, positions: bin.positions, label: label('histogram', groupName(group), bin.label, bin.positions) })),
  );
  const order = [...new Map(groups.flatMap((group) => group.histogram.map((bin) => [bin.from, bin.label] as const))).entries()].sort((a, b) => a[0] - b[0]).map((entry) => entry[1]);
  const many = grouped(groups);
  const maxPositions = Math.max(1, ...values.map((row) => row.positions));
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'bin', type: 'ordinal', sort: order, scale: { domain: order }, title: `active patterns n at τ = ${tau} (bins double)`, axis: { labelAngle: -40 } },
      // Not stacked, from 0.5: on a log scale a bar needs a base above 0, and a bin of 1 position stays visible.
      y: { field: 'positions', type: 'quantitative', stack: null, scale: { type: 'log', domainMin: 0.5 }, title: 'positions (log scale)', axis: { values: decades(1, maxPositions), format: ',d' } },
      y2: { datum: 0.5 },
      color: many ? groupColor(groups) : { value: '#4e79a7' },
      ...(many ? { xOffset: { field: 'group', type: 'nominal', sort: groups.map(groupName) } } : {}),
      description: { field: 'label' },
    },
  } as TopLevelSpec;
}
