import type { PatternClass } from '../engine/index.js';
import { FREQUENCY_TAUS, frequencyRows, PAGE_TAU, selectionFrequency, type Db, type Runs, type SelectionFrequency } from '../store/index.js';
import { byteLabel } from './labels.js';
import { thousands } from './numbers.js';
import { formatTau } from './select.js';
import type { Table } from './table.js';

/**
 * The report's activation frequency section (`--sections frequency`): over the
 * selection, at the page's τ, the patterns active at the most positions per
 * class, and the recurrent backbone: the Wh patterns j → i active most often as
 * a graph of neurons, with each neuron's in- and out-degree in it. From the
 * runs' stored frequencies (store/frequency.ts), never their positions.
 */

/** Patterns listed per class. */
export const FREQUENCY_TOP = 10;
/** Wh edges in the backbone: the most often active, at most this many neurons among them (so the graph stays legible). */
export const BACKBONE_EDGES = 30;
export const BACKBONE_NEURONS = 32;

/** One pattern and how often it is active. */
export interface FrequentPattern {
  readonly class: PatternClass;
  /** Wx (c, j): src c, dst j; Wh (j → i): src j, dst i; Wy (j, y): src j, dst y. */
  readonly src: number;
  readonly dst: number;
  /** Positions where it is active. */
  readonly positions: number;
  /** positions / the positions counted. */
  readonly share: number;
}

export interface FrequencyReport {
  readonly tau: number;
  /** Runs whose frequencies are summed, and their positions. */
  readonly runs: number;
  readonly positions: number;
  /** Runs of the selection without frequencies: not finished, or computed before sparsetrace kept them (schema 7). */
  readonly runs_without: number;
  /** Per class, the FREQUENCY_TOP patterns active at the most positions (ties: the smaller src, then dst). */
  readonly top: { readonly wx: readonly FrequentPattern[]; readonly wh: readonly FrequentPattern[]; readonly wy: readonly FrequentPattern[] };
  /** The recurrent backbone: its edges j → i (the Wh patterns active most often) and its neurons' degrees in it. */
  readonly backbone: {
    readonly edges: readonly FrequentPattern[];
    readonly neurons: readonly { readonly neuron: number; readonly in_degree: number; readonly out_degree: number }[];
  };
}

/** The pattern at index k of a class's rows (frequencyRows), as (src, dst). */
function patternAt(cls: PatternClass, row: number, j: number): { src: number; dst: number } {
  return cls === 'wx' ? { src: row, dst: j } : { src: j, dst: row };
}

/** The `count` patterns of `cls` with the most positions, from the summed counts. */
function topOf(sum: SelectionFrequency, hidden: number, cls: PatternClass, count: number): FrequentPattern[] {
  const layout = frequencyRows(hidden).find((entry) => entry.cls === cls) as { rows: number; offset: number };
  const found: FrequentPattern[] = [];
  for (let row = 0; row < layout.rows; row++) {
    for (let j = 0; j < hidden; j++) {
      const positions = sum.counts[layout.offset + row * hidden + j];
      if (positions > 0) found.push({ class: cls, ...patternAt(cls, row, j), positions, share: positions / sum.positions });
    }
  }
  found.sort((a, b) => b.positions - a.positions || a.src - b.src || a.dst - b.dst);
  return found.slice(0, count);
}

/** The backbone: Wh edges in order of frequency while they bring at most BACKBONE_NEURONS neurons, up to BACKBONE_EDGES. */
function backboneOf(sum: SelectionFrequency, hidden: number): FrequencyReport['backbone'] {
  const neurons = new Set<number>();
  const edges: FrequentPattern[] = [];
  for (const edge of topOf(sum, hidden, 'wh', hidden * hidden)) {
    if (edges.length === BACKBONE_EDGES) break;
    const added = [edge.src, edge.dst].filter((n, k, both) => !neurons.has(n) && both.indexOf(n) === k).length;
    if (neurons.size + added > BACKBONE_NEURONS) continue;
    neurons.add(edge.src);
    neurons.add(edge.dst);
    edges.push(edge);
  }
  const degrees = [...neurons].sort((a, b) => a - b).map((neuron) => ({
    neuron,
    in_degree: edges.filter((edge) => edge.dst === neuron).length,
    out_degree: edges.filter((edge) => edge.src === neuron).length,
  }));
  return { edges, neurons: degrees };
}

/** The section's figures for a selection of runs of a model of `hidden` neurons, at the page's τ. */
export function gatherFrequency(db: Db, runs: Runs, hidden: number): FrequencyReport {
  const tau = FREQUENCY_TAUS.find((candidate) => Math.fround(candidate) === Math.fround(PAGE_TAU)) ?? FREQUENCY_TAUS[0];
  const sum = selectionFrequency(db, runs, hidden, tau);
  const empty = sum.positions === 0;
  return {
    tau,
    runs: sum.runs,
    positions: sum.positions,
    runs_without: sum.without,
    top: {
      wx: empty ? [] : topOf(sum, hidden, 'wx', FREQUENCY_TOP),
      wh: empty ? [] : topOf(sum, hidden, 'wh', FREQUENCY_TOP),
      wy: empty ? [] : topOf(sum, hidden, 'wy', FREQUENCY_TOP),
    },
    backbone: empty ? { edges: [], neurons: [] } : backboneOf(sum, hidden),
  };
}

/** A pattern as the tables name it: Wx (c, j), Wh j → i, Wy (j, y). */
export function patternName(pattern: Pick<FrequentPattern, 'class' | 'src' | 'dst'>): string {
  if (pattern.class === 'wx') return `Wx (${byteLabel(pattern.src)}, h${pattern.dst})`;
  if (pattern.class === 'wh') return `Wh h${pattern.src} → h${pattern.dst}`;
  return `Wy (h${pattern.src}, ${byteLabel(pattern.dst)})`;
}

const share = (value: number): string => `${(100 * value).toFixed(1)}%`;

/** One line on what the section sums, or why it is empty (runs without frequencies are said so, never shown as zeros). */
export function frequencyNote(frequency: FrequencyReport): string {
  const without = frequency.runs_without;
  if (frequency.runs === 0) {
    return `no activation frequency at τ = ${formatTau(frequency.tau)}: the selection's ${without === 1 ? 'run is' : `${thousands(without)} runs are`} not finished, or computed before sparsetrace kept it (schema 7)`;
  }
  return `Activation frequency at τ = ${formatTau(frequency.tau)}: ${thousands(frequency.runs)} run${frequency.runs === 1 ? '' : 's'}, ${thousands(frequency.positions)} positions` +
    (without > 0 ? `; ${thousands(without)} run${without === 1 ? '' : 's'} of the selection without it (not finished, or computed before sparsetrace kept it), left out` : '');
}

/** The section's tables: most often active patterns per class, the backbone's edges, its neurons. */
export function frequencyTables(frequency: FrequencyReport): Table[] {
  if (frequency.runs === 0) return [];
  const tau = formatTau(frequency.tau);
  const rows = (patterns: readonly FrequentPattern[]): string[][] => patterns.map((p) => [patternName(p), thousands(p.positions), share(p.share)]);
  return [
    {
      title: `Most often active patterns at τ = ${tau} (top ${FREQUENCY_TOP} per class)`,
      columns: ['Pattern', 'Positions', 'Share of positions'],
      rows: [...rows(frequency.top.wx), ...rows(frequency.top.wh), ...rows(frequency.top.wy)],
    },
    {
      title: `Recurrent backbone at τ = ${tau}: the Wh edges j → i active most often`,
      columns: ['Edge', 'Positions', 'Share of positions'],
      rows: rows(frequency.backbone.edges),
    },
    {
      title: 'Backbone neurons: their edges in it',
      columns: ['Neuron', 'In-degree', 'Out-degree'],
      rows: frequency.backbone.neurons.map((n) => [`h${n.neuron}`, String(n.in_degree), String(n.out_degree)]),
    },
  ];
}

/** The section as tidy CSV rows (section, tau, d, class, measure, value): the pattern or neuron in `class`. */
export function frequencyTidyRows(frequency: FrequencyReport): { section: string; tau: number; cls: string; measure: string; value: number }[] {
  const out: { section: string; tau: number; cls: string; measure: string; value: number }[] = [];
  const { tau } = frequency;
  out.push({ section: 'frequency', tau, cls: '', measure: 'runs', value: frequency.runs });
  out.push({ section: 'frequency', tau, cls: '', measure: 'positions', value: frequency.positions });
  out.push({ section: 'frequency', tau, cls: '', measure: 'runs_without', value: frequency.runs_without });
  for (const cls of ['wx', 'wh', 'wy'] as const) {
    for (const p of frequency.top[cls]) {
      out.push({ section: 'frequency', tau, cls: patternName(p), measure: 'positions', value: p.positions });
      out.push({ section: 'frequency', tau, cls: patternName(p), measure: 'share', value: p.share });
    }
  }
  for (const edge of frequency.backbone.edges) out.push({ section: 'frequency_backbone', tau, cls: patternName(edge), measure: 'positions', value: edge.positions });
  for (const n of frequency.backbone.neurons) {
    out.push({ section: 'frequency_backbone', tau, cls: `h${n.neuron}`, measure: 'in_degree', value: n.in_degree });
    out.push({ section: 'frequency_backbone', tau, cls: `h${n.neuron}`, measure: 'out_degree', value: n.out_degree });
  }
  return out;
}

