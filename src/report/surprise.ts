import type { Db, Runs } from '../store/index.js';
import { decodeCountBlock } from '../store/countBlocks.js';
import { runCountBlocks, selectionRunKeys, shardSurprisals, storedShards, SURPRISAL_BIN_LOWER } from '../store/surprise.js';
import { thousands } from './numbers.js';
import { formatTau } from './select.js';
import type { Table } from './table.js';

/**
 * Sparsity against surprise (issue #19): per τ, n = n_x + n_h + n_y of the
 * selection's stored positions by surprisal bin (positions, mean, median) and
 * Spearman's rank correlation of n with the surprisal. Exact:
 *
 * - per bin, the sum of n is an integer and the median the spec's (element
 *   ⌊(N − 1)/2⌋ of the bin's ascending n), from a histogram of n per bin (its
 *   size is the distinct n, never the positions);
 * - ρ is Pearson's correlation of the ranks, ties given their average rank. With
 *   doubled ranks (integers: 2·below + ties + 1) the sums are exact integers
 *   (BigInt) and ρ = A / √(B·C), A = N·Σ r s − Σr·Σs, B = N·Σ r² − (Σr)²,
 *   C = N·Σ s² − (Σs)², the last step in double (Number(A) / √Number(B·C)): the
 *   same figure whatever the order of the rows. ρ is null when n or the
 *   surprisal takes a single value.
 *
 * Memory: the ranks of n come from its histogram, but ranking the surprisals
 * needs them all in order: 16 bytes per stored position while they are ranked
 * (the surprisals and a sorted copy), then 9 (the ranks and the bin). An exact
 * rank correlation cannot do with less in one pass, and a report writes no
 * temporary files; so the section refuses selections above MAX_RANKED_POSITIONS
 * with a message (a --by split ranks each group on its own; a page leaves the
 * section out with that note). Below it, a value
 * of n's sum of doubled ranks, at most N·(2N + 1) < 2^53, adds up exactly in double.
 */
export const MAX_RANKED_POSITIONS = 2 ** 25;

/** Positions drawn one by one in the HTML chart; a larger selection is drawn as a 2-D histogram. */
export const SURPRISE_POINTS_MAX = 2000;

export interface SurpriseBin {
  /** Bits: from ≤ s < to (to null: no upper bound). */
  readonly from: number;
  readonly to: number | null;
  readonly positions: number;
  readonly mean: number | null;
  readonly median: number | null;
}

export interface SurpriseAtTau {
  readonly tau: number;
  readonly positions: number;
  /** Spearman's ρ of n with the surprisal (average ranks for ties); null when either is constant. */
  readonly spearman: number | null;
  readonly bins: readonly SurpriseBin[];
}

export interface SurpriseReport {
  /** Positions whose rows are stored (runs kept as summaries have none). */
  readonly positions: number;
  readonly by_tau: readonly SurpriseAtTau[];
}

/** The chart's data at one τ: every position (as distinct (surprisal, n) pairs), or a 2-D histogram. */
export type SurpriseChartData =
  | { readonly tau: number; readonly kind: 'points'; readonly points: readonly { readonly surprisal: number; readonly n: number; readonly positions: number }[] }
  | { readonly tau: number; readonly kind: 'cells'; readonly cells: readonly SurpriseCell[] };

/** A cell of the 2-D histogram: surprisal in quarter decades of bits, n in doubling bins (0, 1, 2–3, …). */
export interface SurpriseCell {
  readonly surprisal_from: number;
  readonly surprisal_to: number;
  readonly n_from: number;
  readonly n_to: number;
  readonly positions: number;
}

/** The 2-D histogram's lowest surprisal bin starts at 10^(SURPRISAL_CELL_FLOOR/4) bits; less is counted there. */
const SURPRISAL_CELL_FLOOR = -24;

const binOf = (s: number): number => {
  let k = SURPRISAL_BIN_LOWER.length - 1;
  while (k > 0 && !(s >= SURPRISAL_BIN_LOWER[k])) k--;
  return k;
};

/** Quarter-decade index of a surprisal (floored at SURPRISAL_CELL_FLOOR), placed by its bounds. */
function quarterDecade(s: number): number {
  if (!(s > 0)) return SURPRISAL_CELL_FLOOR;
  let k = Math.max(SURPRISAL_CELL_FLOOR, Math.floor(4 * Math.log10(s)));
  while (k > SURPRISAL_CELL_FLOOR && s < 10 ** (k / 4)) k--;
  while (s >= 10 ** ((k + 1) / 4)) k++;
  return k;
}

/** Doubling bin of n: 0 → 0, 1 → 1, 2–3 → 2, 4–7 → 3, … */
const doublingBin = (n: number): number => (n === 0 ? 0 : 32 - Math.clz32(n));
const doublingFrom = (k: number): number => (k === 0 ? 0 : 2 ** (k - 1));
const doublingTo = (k: number): number => (k === 0 ? 0 : 2 ** k - 1);

/** n per position, summed over the classes, from a block's code point arrays. */
function blockTotals(block: { n_x: Buffer; n_h: Buffer; n_y: Buffer; count: number }): Uint32Array {
  const counts = decodeCountBlock(block, block.count);
  const totals = new Uint32Array(block.count);
  for (let p = 0; p < block.count; p++) totals[p] = counts[3 * p] + counts[3 * p + 1] + counts[3 * p + 2];
  return totals;
}

/** The bins' bounds as the tables print them. */
export function surprisalBins(): { from: number; to: number | null }[] {
  return SURPRISAL_BIN_LOWER.map((from, k) => ({ from, to: k + 1 < SURPRISAL_BIN_LOWER.length ? SURPRISAL_BIN_LOWER[k + 1] : null }));
}

/**
 * The surprise section of a selection at the thresholds `taus` (τ as given,
 * compared as float32), and the chart's data at `chart.tau` if asked for: its
 * points, or its 2-D histogram (a page decides which for all its groups).
 */
export function gatherSurprise(
  db: Db,
  runs: Runs,
  taus: readonly number[],
  chart?: { readonly tau: number; readonly kind: 'points' | 'cells' },
): { report: SurpriseReport; chart?: SurpriseChartData; tooMany?: string } {
  const shards = storedShards(db, selectionRunKeys(db, runs));
  const total = shards.reduce((sum, shard) => sum + shard.count, 0);
  if (total > MAX_RANKED_POSITIONS) {
    const tooMany =
      `the surprise section ranks every stored position and this selection holds ${total.toLocaleString('en-US')} ` +
      `(at most ${MAX_RANKED_POSITIONS.toLocaleString('en-US')}): select fewer runs, or split it with --by`;
    return { report: { positions: total, by_tau: [] }, tooMany };
  }
  const ranked = rankSurprisals(db, shards, total, chart?.kind);
  const runKeys = [...new Set(shards.map((shard) => shard.run_key))];
  const byTau: SurpriseAtTau[] = [];
  let chartData: SurpriseChartData | undefined;
  for (const tau of taus) {
    const drawn = chart !== undefined && Math.fround(chart.tau) === Math.fround(tau);
    const tally = new TauTally(ranked, drawn);
    const seen = tally.addCounts(db, runKeys, Math.fround(tau));
    if (seen === 0) continue; // τ is not one of these runs'
    if (seen !== total) throw new Error(`surprise: ${seen} positions have counts at τ = ${tau}, ${total} have rows`);
    byTau.push(tally.atTau(tau, total, ranked.sumSquares));
    chartData = tally.chartData(tau) ?? chartData;
  }
  return { report: { positions: total, by_tau: byTau }, chart: chartData };
}

/** The selection's surprisals, ranked: what every τ's tally reads by position index (shard order). */
interface RankedSurprisals {
  /** Per position, its doubled surprisal rank. */
  readonly rank: Float64Array;
  /** Σ of the squared doubled ranks, exact. */
  readonly sumSquares: bigint;
  /** Per position, its surprisal bin (SURPRISAL_BIN_LOWER). */
  readonly bin: Uint8Array;
  /** Each shard's first position index, by `run_key:start`. */
  readonly firstIndex: ReadonlyMap<string, number>;
  /** The surprisals themselves, kept for a chart of points. */
  readonly points?: Float64Array;
  /** Per position, its quarter decade, kept for a chart of cells. */
  readonly quarter?: Int8Array;
}

/** Pass 1: the surprisals in shard order, each shard's first index, each position's bin, then their ranks. */
function rankSurprisals(db: Db, shards: ReturnType<typeof storedShards>, total: number, chartKind: 'points' | 'cells' | undefined): RankedSurprisals {
  const surprisal = new Float64Array(total);
  const bin = new Uint8Array(total);
  const firstIndex = new Map<string, number>();
  let at = 0;
  for (const shard of shards) {
    const values = shardSurprisals(db, shard);
    if (values.length !== shard.count) throw new Error(`run key ${shard.run_key}: shard ${shard.start} holds ${values.length} positions of ${shard.count}`);
    firstIndex.set(`${shard.run_key}:${shard.start}`, at);
    for (const value of values) {
      surprisal[at] = value + 0; // −0 ranks with 0
      bin[at] = binOf(value);
      at++;
    }
  }
  const points = chartKind === 'points' ? Float64Array.from(surprisal) : undefined;
  const quarter = chartKind === 'cells' ? Int8Array.from(surprisal, quarterDecade) : undefined;
  const { sumSquares } = rankInPlace(surprisal);
  return { rank: surprisal, sumSquares, bin, firstIndex, points, quarter };
}

/**
 * One τ's figures as its counts are read: per bin a histogram of n and its exact
 * sum; per n its positions and the sum of their surprisal ranks; and, when this
 * τ is drawn, the chart's distinct (surprisal, n) pairs or its cells.
 */
class TauTally {
  private readonly bins = SURPRISAL_BIN_LOWER.map(() => ({ positions: 0, sum: 0, byN: new ByN() }));
  private readonly ofN = new ByN();
  private readonly rankSumOfN = new ByN();
  private readonly pairs?: Map<string, { surprisal: number; n: number; positions: number }>;
  private readonly cells?: Map<number, SurpriseCell>;

  constructor(
    private readonly ranked: RankedSurprisals,
    drawn: boolean,
  ) {
    if (drawn && ranked.points) this.pairs = new Map();
    if (drawn && ranked.quarter) this.cells = new Map();
  }

  /** Adds the runs' count blocks at `tauF32` whose shards have rows; gives how many positions were added. */
  addCounts(db: Db, runKeys: readonly number[], tauF32: number): number {
    let seen = 0;
    for (const runKey of runKeys) {
      for (const block of runCountBlocks(db, runKey, tauF32)) {
        const first = this.ranked.firstIndex.get(`${block.run_key}:${block.start}`);
        if (first === undefined) continue; // a shard whose positions are not stored
        const totals = blockTotals(block);
        for (let p = 0; p < block.count; p++) this.add(first + p, totals[p]);
        seen += block.count;
      }
    }
    return seen;
  }

  private add(i: number, n: number): void {
    const { rank, bin, points, quarter } = this.ranked;
    const entry = this.bins[bin[i]];
    entry.positions++;
    entry.sum += n;
    entry.byN.add(n, 1);
    this.ofN.add(n, 1);
    this.rankSumOfN.add(n, rank[i]);
    if (this.pairs && points) {
      const key = `${points[i]} ${n}`;
      const pair = this.pairs.get(key);
      if (pair === undefined) this.pairs.set(key, { surprisal: points[i], n, positions: 1 });
      else pair.positions++;
    }
    if (this.cells && quarter) {
      const [x, y] = [quarter[i], doublingBin(n)];
      const key = x * 64 + y;
      const cell = this.cells.get(key);
      if (cell === undefined) {
        this.cells.set(key, { surprisal_from: 10 ** (x / 4), surprisal_to: 10 ** ((x + 1) / 4), n_from: doublingFrom(y), n_to: doublingTo(y), positions: 1 });
      } else (cell as { positions: number }).positions++;
    }
  }

  atTau(tau: number, total: number, sumSquaresS: bigint): SurpriseAtTau {
    return {
      tau,
      positions: total,
      spearman: spearman(total, this.ofN, this.rankSumOfN, sumSquaresS),
      bins: this.bins.map((entry, k) => ({
        from: SURPRISAL_BIN_LOWER[k],
        to: k + 1 < SURPRISAL_BIN_LOWER.length ? SURPRISAL_BIN_LOWER[k + 1] : null,
        positions: entry.positions,
        mean: entry.positions === 0 ? null : entry.sum / entry.positions,
        median: medianOf(entry.byN, entry.positions),
      })),
    };
  }

  /** The chart's data at this τ, when it is drawn. */
  chartData(tau: number): SurpriseChartData | undefined {
    if (this.pairs) return { tau, kind: 'points', points: [...this.pairs.values()].sort((a, b) => a.surprisal - b.surprisal || a.n - b.n) };
    if (this.cells) return { tau, kind: 'cells', cells: [...this.cells.values()].sort((a, b) => a.surprisal_from - b.surprisal_from || a.n_from - b.n_from) };
    return undefined;
  }
}

/**
 * Replaces each surprisal by its doubled average rank (2·below + ties + 1, an
 * integer), and gives Σ of their squares, exact. The sorted copy lives only here.
 */
function rankInPlace(values: Float64Array): { sumSquares: bigint } {
  const sorted = Float64Array.from(values).sort();
  let sumSquares = 0n;
  for (let k = 0; k < sorted.length; ) {
    let next = k + 1;
    while (next < sorted.length && sorted[next] === sorted[k]) next++;
    const rank = BigInt(k + next + 1);
    sumSquares += BigInt(next - k) * rank * rank;
    k = next;
  }
  for (let i = 0; i < values.length; i++) values[i] = lowerBound(sorted, values[i]) + upperBound(sorted, values[i]) + 1;
  return { sumSquares };
}

/** Index of the first value ≥ `value` in ascending `sorted`. */
function lowerBound(sorted: Float64Array, value: number): number {
  let [low, high] = [0, sorted.length];
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Index of the first value > `value` in ascending `sorted`. */
function upperBound(sorted: Float64Array, value: number): number {
  let [low, high] = [0, sorted.length];
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Sums per value of n (0 … the largest seen), in a typed array that grows: no map lookup per position. */
class ByN {
  values = new Float64Array(1024);
  largest = -1;

  add(n: number, amount: number): void {
    if (n >= this.values.length) {
      const grown = new Float64Array(Math.max(2 * this.values.length, n + 1));
      grown.set(this.values);
      this.values = grown;
    }
    this.values[n] += amount;
    if (n > this.largest) this.largest = n;
  }
}

/** The spec's median of a histogram: the element ⌊(N − 1)/2⌋ of the ascending values. */
function medianOf(byN: ByN, positions: number): number | null {
  if (positions === 0) return null;
  const index = Math.floor((positions - 1) / 2);
  let below = 0;
  for (let n = 0; n <= byN.largest; n++) {
    below += byN.values[n];
    if (below > index) return n;
  }
  throw new Error('unreachable: a histogram whose positions do not add up');
}

/**
 * Spearman's ρ from the histogram of n (with each value's sum of doubled
 * surprisal ranks) and Σ s² of the doubled surprisal ranks: exact integer sums,
 * then one division in double (see the module's comment).
 */
function spearman(total: number, positionsOfN: ByN, rankSumOfN: ByN, sumSquaresS: bigint): number | null {
  const N = BigInt(total);
  // Σ of doubled ranks 1 … N, whatever the ties: N(N + 1).
  const sumRanks = N * (N + 1n);
  let below = 0;
  let sumRS = 0n;
  let sumSquaresR = 0n;
  for (let n = 0; n <= positionsOfN.largest; n++) {
    const positions = positionsOfN.values[n];
    if (positions === 0) continue;
    const rank = BigInt(2 * below + positions + 1);
    sumRS += rank * BigInt(rankSumOfN.values[n]);
    sumSquaresR += BigInt(positions) * rank * rank;
    below += positions;
  }
  const a = N * sumRS - sumRanks * sumRanks;
  const b = N * sumSquaresR - sumRanks * sumRanks;
  const c = N * sumSquaresS - sumRanks * sumRanks;
  if (b === 0n || c === 0n) return null;
  return Number(a) / Math.sqrt(Number(b * c));
}

/** A bin as tables and CSV name it: `[0.01,0.1)`, `[8,inf)`. */
export function binLabel(bin: { from: number; to: number | null }): string {
  return `[${bin.from},${bin.to === null ? 'inf' : bin.to})`;
}

/** The section's tables: n by surprisal bin per τ, and the rank correlation per τ. */
export function surpriseTables(surprise: SurpriseReport): Table[] {
  return [
    {
      title: 'Sparsity against surprise: n by surprisal bin (bits)',
      columns: ['Threshold τ', 'Surprisal', 'Positions', 'Mean n', 'Median n'],
      rows: surprise.by_tau.flatMap((row) =>
        row.bins.map((bin, k) => [
          k === 0 ? formatTau(row.tau) : '',
          binLabel(bin),
          thousands(bin.positions),
          bin.mean === null ? '-' : thousands(bin.mean, 1),
          bin.median === null ? '-' : thousands(bin.median),
        ]),
      ),
      alignRight: [false, false, true, true, true],
    },
    {
      title: 'Rank correlation of n with surprisal (Spearman, ties at their average rank)',
      columns: ['Threshold τ', 'Positions', 'Spearman ρ'],
      rows: surprise.by_tau.map((row) => [formatTau(row.tau), thousands(row.positions), row.spearman === null ? '-' : row.spearman.toFixed(4)]),
    },
  ];
}

/** A line under the tables when positions lack their rows (runs kept as summaries), or none are stored. */
export function surpriseNote(surprise: SurpriseReport, positions: number): string | undefined {
  if (surprise.positions === positions) return undefined;
  if (surprise.positions === 0) return 'Sparsity against surprise: no per-position rows are stored for this selection (its runs keep summaries only).';
  return `Sparsity against surprise: over the ${thousands(surprise.positions)} positions whose rows are stored, of ${thousands(positions)} (runs kept as summaries have none).`;
}

/** The section as tidy CSV rows: (tau, class = the bin, measure, value); the correlation with an empty class. */
export function surpriseTidyRows(surprise: SurpriseReport): { tau: number | null; cls: string; measure: string; value: number | null }[] {
  const rows: { tau: number | null; cls: string; measure: string; value: number | null }[] = [{ tau: null, cls: '', measure: 'positions', value: surprise.positions }];
  for (const row of surprise.by_tau) {
    rows.push({ tau: row.tau, cls: '', measure: 'spearman', value: row.spearman });
    for (const bin of row.bins) {
      rows.push({ tau: row.tau, cls: binLabel(bin), measure: 'positions', value: bin.positions });
      rows.push({ tau: row.tau, cls: binLabel(bin), measure: 'mean', value: bin.mean });
      rows.push({ tau: row.tau, cls: binLabel(bin), measure: 'median', value: bin.median });
    }
  }
  return rows;
}
