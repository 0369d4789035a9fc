import type { TopLevelSpec } from 'vega-lite';
import { CLASS_COLORS, CLASS_LABELS, renderSvg } from './charts.js';
import { FREQUENCY_TOP, frequencyNote, frequencyTables, patternName, type FrequencyReport } from './frequency.js';
import { formatTau } from './select.js';
import type { Table } from './table.js';

/** A group of the page with its frequency section (key null: a page of one selection). */
export interface FrequencyGroup {
  readonly key: string | null;
  readonly frequency: FrequencyReport;
}

const WIDTH = 420;
/** The backbone's circle: neurons on it (radius 1), their labels just outside. */
const GRAPH_SIZE = 360;
const groupName = (key: string | null): string => key ?? 'selection';
const label = (...parts: (string | number)[]): string => parts.join('|');
const header = { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelAlign: 'left', labelFontWeight: 'bold', labelLimit: 0 };

/** The most often active patterns per class as bars of their share of positions, a block per class (and a row per group). */
export function frequencyTopSpec(groups: readonly FrequencyGroup[]): TopLevelSpec {
  const many = groups.length > 1 || groups[0]?.key !== null;
  const values = groups.flatMap(({ key, frequency }) =>
    (['wx', 'wh', 'wy'] as const).flatMap((cls, order) =>
      frequency.top[cls].map((pattern, rank) => ({
        group: groupName(key),
        cls: CLASS_LABELS[cls],
        // The bar's name: the pattern, unique in its group (ranks keep the order by frequency).
        name: patternName(pattern),
        rank: order * 1000 + rank,
        share: pattern.share,
        label: label('frequency-top', `${groupName(key)}:${cls}`, patternName(pattern), pattern.positions),
      })),
    ),
  );
  const bars = {
    width: WIDTH,
    height: { step: 16 },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'name', type: 'nominal', sort: { field: 'rank' }, title: null, axis: { labelLimit: 0 } },
      x: { field: 'share', type: 'quantitative', title: 'share of positions where the pattern is active', axis: { format: '.0%', values: [0, 0.2, 0.4, 0.6, 0.8, 1] }, scale: { domain: [0, 1] } },
      color: { field: 'cls', type: 'nominal', title: null, scale: { domain: Object.values(CLASS_LABELS), range: CLASS_COLORS } },
      description: { field: 'label' },
    },
  };
  return {
    data: { values },
    ...(many ? { facet: { row: { field: 'group', type: 'nominal', title: null, sort: groups.map((group) => groupName(group.key)), header } }, spec: bars } : bars),
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}

/** Where neuron k of n sits on the unit circle (the first at the top, clockwise). */
function onCircle(k: number, n: number, radius = 1): { x: number; y: number } {
  const angle = (2 * Math.PI * k) / n - Math.PI / 2;
  return { x: radius * Math.cos(angle), y: -radius * Math.sin(angle) };
}

/**
 * The recurrent backbone as a graph: its neurons on a circle (laid out here, in
 * neuron order), its edges j → i as lines whose width is the share of positions
 * where Wh (j → i) is active, an arrow head near each target, neurons sized by
 * their degree in it and labelled outside the circle. A row per group.
 */
export function frequencyBackboneSpec(groups: readonly FrequencyGroup[]): TopLevelSpec {
  const many = groups.length > 1 || groups[0]?.key !== null;
  const nodes: Record<string, unknown>[] = [];
  const edges: Record<string, unknown>[] = [];
  for (const { key, frequency } of groups) {
    const { neurons } = frequency.backbone;
    const place = new Map(neurons.map((n, k) => [n.neuron, k]));
    neurons.forEach((n, k) => {
      const at = onCircle(k, neurons.length);
      const text = onCircle(k, neurons.length, 1.16);
      nodes.push({
        group: groupName(key),
        x: at.x,
        y: at.y,
        tx: text.x,
        ty: text.y,
        align: Math.abs(text.x) < 0.2 ? 'center' : text.x < 0 ? 'right' : 'left',
        name: `h${n.neuron}`,
        degree: n.in_degree + n.out_degree,
        label: label('frequency-backbone', `${groupName(key)}:neuron`, `h${n.neuron} in ${n.in_degree} out ${n.out_degree}`, n.in_degree + n.out_degree),
      });
    });
    for (const edge of frequency.backbone.edges) {
      const from = onCircle(place.get(edge.src) as number, neurons.length);
      const to = onCircle(place.get(edge.dst) as number, neurons.length);
      // The head sits 12% short of the target, on the line (a self-loop has none).
      const head = { x: to.x + 0.12 * (from.x - to.x), y: to.y + 0.12 * (from.y - to.y) };
      const angle = (Math.atan2(to.x - from.x, to.y - from.y) * 180) / Math.PI;
      edges.push({ group: groupName(key), x: from.x, y: from.y, x2: to.x, y2: to.y, hx: head.x, hy: head.y, angle, self: edge.src === edge.dst, share: edge.share, name: patternName(edge) });
    }
  }
  const scale = { domain: [-1.45, 1.45], nice: false };
  const axis = { x: { type: 'quantitative', scale, axis: null }, y: { type: 'quantitative', scale, axis: null } };
  const graph = {
    width: GRAPH_SIZE,
    height: GRAPH_SIZE,
    layer: [
      {
        data: { values: edges },
        transform: [{ filter: '!datum.self' }],
        mark: { type: 'rule', color: '#e15759', opacity: 0.55, aria: false },
        encoding: {
          x: { field: 'x', ...axis.x },
          y: { field: 'y', ...axis.y },
          x2: { field: 'x2' },
          y2: { field: 'y2' },
          strokeWidth: { field: 'share', type: 'quantitative', scale: { domain: [0, 1], range: [0.5, 6] }, title: 'share of positions', legend: null },
        },
      },
      {
        data: { values: edges },
        transform: [{ filter: '!datum.self' }],
        mark: { type: 'point', shape: 'triangle-up', filled: true, size: 40, color: '#e15759', opacity: 0.8, aria: false },
        encoding: { x: { field: 'hx', ...axis.x }, y: { field: 'hy', ...axis.y }, angle: { field: 'angle', type: 'quantitative', scale: null } },
      },
      {
        data: { values: nodes },
        mark: { type: 'point', filled: true, color: '#4e79a7', opacity: 1 },
        encoding: {
          x: { field: 'x', ...axis.x },
          y: { field: 'y', ...axis.y },
          size: { field: 'degree', type: 'quantitative', scale: { range: [30, 220] }, title: 'edges', legend: null },
          description: { field: 'label' },
        },
      },
      // Labels left of the circle end at their point, right of it begin there (align is a mark property: a layer each).
      ...(['left', 'center', 'right'] as const).map((align) => ({
        data: { values: nodes },
        transform: [{ filter: `datum.align === '${align}'` }],
        mark: { type: 'text', fontSize: 10, baseline: 'middle', align, aria: false },
        encoding: { x: { field: 'tx', ...axis.x }, y: { field: 'ty', ...axis.y }, text: { field: 'name' } },
      })),
    ],
  };
  if (!many) return graph as TopLevelSpec;
  // One graph per group, each over its own rows.
  return {
    vconcat: groups.map((group) => ({
      title: { text: groupName(group.key), anchor: 'start', fontSize: 12 },
      ...graph,
      layer: graph.layer.map((layer) => ({ ...layer, data: { values: (layer.data.values as { group: string }[]).filter((row) => row.group === groupName(group.key)) } })),
    })),
  } as TopLevelSpec;
}

/** The section: per group its note and tables; the two charts, for the groups that have frequencies. */
export async function frequencySection(groups: readonly FrequencyGroup[], htmlTable: (table: Table, id: string) => string, escape: (text: string) => string): Promise<string> {
  const single = groups.length === 1 && groups[0].key === null;
  const ids = ['frequency-top', 'frequency-backbone', 'frequency-neurons'];
  const tables = (group: FrequencyGroup, prefix: string): string =>
    [`<p class="note">${escape(frequencyNote(group.frequency))}</p>`, ...frequencyTables(group.frequency).map((table, k) => htmlTable(table, `${prefix}${ids[k]}`))].join('\n');
  const body = single
    ? tables(groups[0], '')
    : groups.map((group, k) => `<details ${k === 0 ? 'open' : ''} data-group="${escape(group.key ?? '')}"><summary>${escape(group.key ?? '')}</summary>\n${tables(group, `g${k}-`)}\n</details>`).join('\n');
  const drawn = groups.filter((group) => group.frequency.runs > 0);
  const tau = formatTau(groups[0]?.frequency.tau ?? 0.01);
  const figures =
    drawn.length === 0
      ? ''
      : [
          `<figure class="chart" data-chart="frequency-top"><h3 class="chart-title">Most Often Active Patterns at τ = ${tau}</h3>${await renderSvg(frequencyTopSpec(drawn))}<figcaption>The ${FREQUENCY_TOP} patterns of each class active at the most positions, as a share of the positions counted.</figcaption></figure>`,
          `<figure class="chart" data-chart="frequency-backbone"><h3 class="chart-title">Recurrent Backbone at τ = ${tau}</h3>${await renderSvg(frequencyBackboneSpec(drawn))}<figcaption>The Wh patterns j → i active most often, as a graph of neurons on a circle: a line per edge, as wide as the share of positions where it is active, its arrow head near the receiving neuron i (self-loops are in the table only); neurons sized by their edges in it.</figcaption></figure>`,
        ].join('\n');
  return `<h2>Activation Frequency</h2>
<p>Which patterns are active at the most positions? Per pattern, the positions where its attribution exceeds τ = ${tau} (the rule of the counts), added up over the runs; the recurrent backbone is the Wh patterns active most often, drawn as a graph of neurons.</p>
${figures}
${body}`;
}
