import { ExactSum } from './exactSum.js';
import { BYTE_VALUES } from './model.js';
import type { PatternPeaks } from './patterns.js';
import { CLASS_COUNT, type RangeResult } from './trace.js';

/**
 * Read access to a RangeResult's flat arrays by position p (0-based in the
 * range), threshold index k and offset d, so that no caller indexes them by hand.
 */
export class RangeView {
  constructor(
    readonly range: RangeResult,
    readonly thresholdCount: number,
    readonly dmax: number,
  ) {}

  get count(): number {
    return this.range.count;
  }

  /** The position t of row p. */
  t(p: number): number {
    return this.range.start + p;
  }

  nx(p: number, k: number): number {
    return this.range.counts[(p * this.thresholdCount + k) * CLASS_COUNT];
  }

  nh(p: number, k: number): number {
    return this.range.counts[(p * this.thresholdCount + k) * CLASS_COUNT + 1];
  }

  ny(p: number, k: number): number {
    return this.range.counts[(p * this.thresholdCount + k) * CLASS_COUNT + 2];
  }

  /** The deepest offset position p reaches: min(t, Dmax). */
  deepest(p: number): number {
    return Math.min(this.t(p), this.dmax);
  }

  /** Depth mass of position p at offset d ≤ deepest(p). */
  depthMass(p: number, d: number): number {
    return this.range.depthMass[p * (this.dmax + 1) + d];
  }
}

/** What a shard keeps of its depth masses and surprisals when per-position curves are not stored. */
export interface RangeSummary {
  /** Per position: Σ_d depth mass over d = 0 .. min(t, Dmax), exactly rounded. */
  readonly massTotal: Float64Array;
  /** Per position: the offset d ≥ 1 with the largest depth mass (the first if tied); -1 when there is none (t = 0 or Dmax = 0). */
  readonly peakDepth: Int32Array;
  /** Per offset d: the positions of the range where d exists (t ≥ d). */
  readonly depthPositions: Uint32Array;
  /** Per offset d: the exact sum of those positions' depth mass, as (hi, lo) at [2d], [2d + 1]. */
  readonly depthSums: Float64Array;
  /** The exact sum of the range's surprisals, as (hi, lo). */
  readonly surprisalSum: Float64Array;
}

/** Summarizes a range: per-position total mass and peak offset, per-offset exact sums, the surprisal sum. */
export function summarizeRange(range: RangeResult, dmax: number): RangeSummary {
  const view = new RangeView(range, 0, dmax);
  const massTotal = new Float64Array(range.count);
  const peakDepth = new Int32Array(range.count);
  const depthPositions = new Uint32Array(dmax + 1);
  const sums = Array.from({ length: dmax + 1 }, () => new ExactSum());
  const surprisal = new ExactSum();
  for (let p = 0; p < range.count; p++) {
    surprisal.add(range.surprisal[p]);
    const deepest = view.deepest(p);
    const total = new ExactSum();
    let peak = -1;
    let peakMass = -Infinity;
    for (let d = 0; d <= deepest; d++) {
      const mass = view.depthMass(p, d);
      total.add(mass);
      sums[d].add(mass);
      depthPositions[d]++;
      if (d >= 1 && mass > peakMass) {
        peakMass = mass;
        peak = d;
      }
    }
    massTotal[p] = total.value();
    peakDepth[p] = peak;
  }
  const depthSums = new Float64Array(2 * (dmax + 1));
  sums.forEach((sum, d) => depthSums.set(sum.split(), 2 * d));
  return { massTotal, peakDepth, depthPositions, depthSums, surprisalSum: Float64Array.from(surprisal.split()) };
}

/** Pattern classes: Wx (c, j), Wh (j → i), Wy (j, y). */
export type PatternClass = 'wx' | 'wh' | 'wy';

/**
 * One stored row of pattern peaks: the peak attributions of Wx (c, j) over j for
 * row c, of Wy (j, y) over j for row y (H values each), and of every Wh (j → i) at
 * i·H + j in the one Wh row, 0 (H² values).
 */
export interface PatternPeakRow {
  readonly cls: PatternClass;
  readonly row: number;
  readonly peaks: Float32Array;
}

/** The rows of a PatternPeaks (Wx rows are copied out of its j-major layout), in storage order. */
export function* patternPeakRows(peaks: PatternPeaks, hidden: number): Generator<PatternPeakRow> {
  const H = hidden;
  for (let c = 0; c < BYTE_VALUES; c++) {
    const row = new Float32Array(H);
    for (let j = 0; j < H; j++) row[j] = peaks.wx[j * BYTE_VALUES + c];
    yield { cls: 'wx', row: c, peaks: row };
  }
  yield { cls: 'wh', row: 0, peaks: peaks.wh };
  for (let y = 0; y < BYTE_VALUES; y++) yield { cls: 'wy', row: y, peaks: peaks.wy.subarray(y * H, (y + 1) * H) };
}

/** Writes a stored row back into a PatternPeaks. */
export function setPatternPeakRow(peaks: PatternPeaks, hidden: number, { cls, row, peaks: values }: PatternPeakRow): void {
  const H = hidden;
  const expected = cls === 'wh' ? H * H : H;
  if (values.length !== expected) throw new RangeError(`a ${cls} peak row of ${values.length} values, expected ${expected}`);
  if (cls === 'wx') for (let j = 0; j < H; j++) peaks.wx[j * BYTE_VALUES + row] = values[j];
  else if (cls === 'wh') peaks.wh.set(values);
  else peaks.wy.set(values, row * H);
}

/** All-zero peaks: a run before its first shard. */
export function emptyPatternPeaks(hidden: number): PatternPeaks {
  return { wx: new Float32Array(hidden * BYTE_VALUES), wh: new Float32Array(hidden * hidden), wy: new Float32Array(BYTE_VALUES * hidden) };
}

/** Elementwise max of `from` into `into`. */
export function mergePatternPeaks(into: PatternPeaks, from: PatternPeaks): void {
  for (const cls of ['wx', 'wh', 'wy'] as const) {
    const target = into[cls];
    const source = from[cls];
    for (let k = 0; k < target.length; k++) if (source[k] > target[k]) target[k] = source[k];
  }
}
