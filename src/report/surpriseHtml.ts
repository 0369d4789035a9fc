import type { TopLevelSpec } from 'vega-lite';
import { decades, groupColorOf, renderSvg } from './charts.js';
import { thousands } from './numbers.js';
import { formatTau } from './select.js';
import { SURPRISE_POINTS_MAX, surpriseNote, surpriseTables, type SurpriseChartData, type SurpriseReport } from './surprise.js';
import type { Table } from './table.js';

/** A group of the page with its surprise section and chart data (key null: a page of one selection). */
export interface SurpriseGroup {
  readonly key: string | null;
  /** All the group's positions (the report's), to say how many have rows. */
  readonly positions: number;
  readonly surprise: SurpriseReport;
  readonly chart?: SurpriseChartData;
}

const WIDTH = 560;
const HEIGHT = 300;
const groupName = (key: string | null): string => key ?? 'selection';
const label = (...parts: (string | number)[]): string => parts.join('|');

/**
 * n against surprisal, both on log scales (symlog on n, so n = 0 shows): a point
 * per distinct (surprisal, n) of every position, or, when the page holds more
 * than SURPRISE_POINTS_MAX positions, a 2-D histogram (quarter decades of bits ×
 * doubling bins of n, coloured by positions on a log scale) so the page stays small.
 * A surprisal of 0 is drawn at the axis' first decade.
 */
export function surpriseSpec(groups: readonly SurpriseGroup[], tau: number): TopLevelSpec {
  const many = groups.length > 1 || groups[0]?.key !== null;
  const drawn = groups.filter((group) => group.chart !== undefined);
  const kind = drawn[0]?.chart?.kind ?? 'points';
  const positive = drawn.flatMap((group) =>
    group.chart?.kind === 'points' ? group.chart.points.map((point) => point.surprisal) : (group.chart?.cells.map((cell) => cell.surprisal_from) ?? []),
  ).filter((s) => s > 0);
  const largest = drawn.flatMap((group) =>
    group.chart?.kind === 'points' ? group.chart.points.map((point) => point.surprisal) : (group.chart?.cells.map((cell) => cell.surprisal_to) ?? []),
  );
  const ticks = decades(Math.min(1, ...positive), Math.max(1, ...largest));
  const floor = ticks[0];
  // At most 8 labelled decades: a surprisal of 10⁻¹² bits spreads 14 labels like "0.000001" over the axis, one over another.
  const every = Math.ceil(ticks.length / 8);
  const labelled = ticks.filter((_, k) => (ticks.length - 1 - k) % every === 0);
  const nMax = Math.max(1, ...drawn.flatMap((group) => (group.chart?.kind === 'points' ? group.chart.points.map((p) => p.n) : (group.chart?.cells.map((c) => c.n_to + 1) ?? []))));
  const x = { type: 'quantitative', scale: { type: 'log', domain: [floor, ticks[ticks.length - 1]] }, title: 'surprisal (bits, log scale)', axis: { values: labelled, format: '~g' } };
  const y = { type: 'quantitative', scale: { type: 'symlog' }, title: `active patterns n at τ = ${formatTau(tau)} (log scale)`, axis: { values: [0, ...decades(1, nMax)], format: ',d' } };
  if (kind === 'points') {
    const values = drawn.flatMap((group) =>
      group.chart?.kind === 'points'
        ? group.chart.points.map((point) => ({
            group: groupName(group.key),
            s: Math.max(point.surprisal, floor),
            n: point.n,
            label: label('surprise', `${groupName(group.key)}${point.positions > 1 ? `:${point.positions} positions` : ''}`, point.surprisal, point.n),
          }))
        : [],
    );
    return {
      width: WIDTH,
      height: HEIGHT,
      data: { values },
      mark: { type: 'point', filled: true, size: 16, opacity: 0.6 },
      encoding: {
        x: { field: 's', ...x },
        y: { field: 'n', ...y },
        color: many ? groupColorOf(groups.map((group) => groupName(group.key))) : { value: '#4e79a7' },
        description: { field: 'label' },
      },
    } as TopLevelSpec;
  }
  const values = drawn.flatMap((group) =>
    group.chart?.kind === 'cells'
      ? group.chart.cells.map((cell) => ({
          group: groupName(group.key),
          s: Math.max(cell.surprisal_from, floor),
          s2: cell.surprisal_to,
          n: cell.n_from,
          n2: cell.n_to + 1,
          positions: cell.positions,
          label: label('surprise-cells', `${groupName(group.key)}:n ${cell.n_from}–${cell.n_to}`, `${cell.surprisal_from.toPrecision(3)}–${cell.surprisal_to.toPrecision(3)}`, cell.positions),
        }))
      : [],
  );
  const cells = {
    width: WIDTH,
    height: HEIGHT,
    mark: { type: 'rect' },
    encoding: {
      x: { field: 's', ...x },
      x2: { field: 's2' },
      y: { field: 'n', ...y },
      y2: { field: 'n2' },
      color: { field: 'positions', type: 'quantitative', scale: { type: 'log', scheme: 'blues' }, title: 'positions', legend: { orient: 'right' } },
      description: { field: 'label' },
    },
  };
  return { data: { values }, ...(many ? { facet: { row: { field: 'group', type: 'nominal', title: null, sort: groups.map((group) => groupName(group.key)) } }, spec: cells } : cells) } as TopLevelSpec;
}

/** The section: per group its tables (n by bin, ρ) and a note when positions lack rows; the chart at `tau`. */
export async function surpriseSection(groups: readonly SurpriseGroup[], tau: number, htmlTable: (table: Table, id: string) => string, escape: (text: string) => string): Promise<string> {
  const single = groups.length === 1 && groups[0].key === null;
  const tables = (group: SurpriseGroup, prefix: string): string => {
    const note = surpriseNote(group.surprise, group.positions);
    const [bins, rho] = surpriseTables(group.surprise);
    return `${htmlTable(rho, `${prefix}surprise-spearman`)}\n${htmlTable(bins, `${prefix}surprise-bins`)}${note ? `\n<p class="note">${escape(note)}</p>` : ''}`;
  };
  const body = single
    ? tables(groups[0], '')
    : groups.map((group, k) => `<details ${k === 0 ? 'open' : ''} data-group="${escape(group.key ?? '')}"><summary>${escape(group.key ?? '')}</summary>\n${tables(group, `g${k}-`)}\n</details>`).join('\n');
  const drawn = groups.some((group) => group.chart !== undefined);
  const kind = groups.find((group) => group.chart !== undefined)?.chart?.kind;
  const total = groups.reduce((sum, group) => sum + group.surprise.positions, 0);
  const caption =
    kind === 'cells'
      ? `Active patterns n at τ = ${formatTau(tau)} against the surprisal of the prediction, ${thousands(total)} positions as a 2-D histogram (more than ${thousands(SURPRISE_POINTS_MAX)}: quarter decades of bits × doubling bins of n), both axes logarithmic (a surprisal below 10⁻⁶ bits counts in the first column).`
      : `Active patterns n at τ = ${formatTau(tau)} against the surprisal of the prediction, one point per position, both axes logarithmic (symmetric log on n, so n = 0 shows; a surprisal of 0 at the first decade).`;
  const figure = drawn ? `<figure class="chart" data-chart="surprise"><h3 class="chart-title">Active Patterns vs Surprisal at τ = ${formatTau(tau)}</h3>${await renderSvg(surpriseSpec(groups, tau))}<figcaption>${caption}</figcaption></figure>` : '';
  return `<h2>Sparsity Against Surprise</h2>
<p>Does a prediction use more patterns when the network is surprised? Per τ, Spearman's rank correlation of n with the surprisal −log<sub>2</sub> P<sub>t</sub>[y] (ties at their average rank), and n by surprisal bin in bits, over the positions whose rows are stored.</p>
${figure}
${body}`;
}
