import { ExactSum } from './exactSum.js';
import { BYTE_VALUES } from './model.js';
import type { PatternPeaks } from './patterns.js';
import { CLASS_COUNT, type PatternClass } from './computation.js';
import type { RangeResult, TraceTables } from './trace.js';

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

  /** Every position's (n_x, n_h, n_y) at threshold index k, in order of p: 3 × count values. */
  countsAt(k: number): Uint32Array {
    const { counts } = this.range;
    const out = new Uint32Array(this.count * CLASS_COUNT);
    for (let p = 0; p < this.count; p++) {
      const from = (p * this.thresholdCount + k) * CLASS_COUNT;
      out[p * CLASS_COUNT] = counts[from];
      out[p * CLASS_COUNT + 1] = counts[from + 1];
      out[p * CLASS_COUNT + 2] = counts[from + 2];
    }
    return out;
  }

  /** The deepest offset position p reaches: min(t + burn-in, Dmax). */
  deepest(p: number): number {
    return Math.min(this.t(p) + (this.range.burnIn ?? 0), this.dmax);
  }

  /** Depth mass of position p at offset d ≤ deepest(p). */
  depthMass(p: number, d: number): number {
    return this.range.depthMass[p * (this.dmax + 1) + d];
  }
}

/** What a shard keeps of its depth masses and surprisals when per-position curves are not stored. */
export interface RangeSummary {
  /** Per position: Σ_d depth mass over d = 0 .. min(t + burn-in, Dmax), exactly rounded. */
  readonly massTotal: Float64Array;
  /** Per position: the offset d ≥ 1 with the largest depth mass (the first if tied); -1 when there is none (t = 0 or Dmax = 0). */
  readonly peakDepth: Int32Array;
  /** Per offset d: the positions of the range where d exists (t + burn-in ≥ d). */
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

/**
 * summarizeRange computed by the trace kernel (trace.wat, `summarize`): the same
 * summary bit for bit (the exact sums are ExactSum's steps in f64), without the
 * JavaScript loops that a worker's first shards ran cold (4–8 ms each).
 */
export function summarizeRangeInKernel(tables: TraceTables, range: RangeResult, dmax: number): RangeSummary {
  // The kernel reaches min(t, Dmax) from t: a warm range's positions are t + burn-in of their sequence.
  const first = range.start + (range.burnIn ?? 0);
  const { massTotal, peakDepth, depthPositions, depthPartials } = tables.kernel.summarizeDepths(range.depthMass, first, range.count, dmax);
  const depthSums = new Float64Array(2 * (dmax + 1));
  depthPartials.forEach((partials, d) => {
    // The partials' exact sum is the sum of the masses: split() depends on that value only.
    const sum = new ExactSum();
    for (const partial of partials) sum.add(partial);
    depthSums.set(sum.split(), 2 * d);
  });
  const surprisal = new ExactSum();
  for (let p = 0; p < range.count; p++) surprisal.add(range.surprisal[p]);
  return { massTotal, peakDepth, depthPositions, depthSums, surprisalSum: Float64Array.from(surprisal.split()) };
}

/**
 * One stored row of pattern peaks: the peak attributions of Wx (c, j) over j for
 * row c, of Wy (j, y) over j for row y (H values each; only bytes that occur have
 * any), and of every Wh (j → i) at i·H + j in the one Wh row, 0 (H² values).
 */
export interface PatternPeakRow {
  readonly cls: PatternClass;
  readonly row: number;
  readonly peaks: Float32Array;
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

/**
 * Elementwise max of `from` into `into`, row by stored row (see PatternPeakRow):
 * copies of the rows of `into` that grew, in storage order.
 */
export function mergePatternPeakRows(into: PatternPeaks, from: PatternPeaks, hidden: number): PatternPeakRow[] {
  const H = hidden;
  const grown: PatternPeakRow[] = [];
  for (let c = 0; c < BYTE_VALUES; c++) {
    let grew = false;
    // Wx is j-major: row c is every BYTE_VALUES-th value from c.
    for (let k = c; k < H * BYTE_VALUES; k += BYTE_VALUES) {
      if (from.wx[k] > into.wx[k]) {
        into.wx[k] = from.wx[k];
        grew = true;
      }
    }
    if (!grew) continue;
    const row = new Float32Array(H);
    for (let j = 0; j < H; j++) row[j] = into.wx[j * BYTE_VALUES + c];
    grown.push({ cls: 'wx', row: c, peaks: row });
  }
  if (maxInto(into.wh, from.wh, 0, H * H)) grown.push({ cls: 'wh', row: 0, peaks: into.wh.slice() });
  for (let y = 0; y < BYTE_VALUES; y++) {
    if (maxInto(into.wy, from.wy, y * H, (y + 1) * H)) grown.push({ cls: 'wy', row: y, peaks: into.wy.slice(y * H, (y + 1) * H) });
  }
  return grown;
}

/**
 * mergePatternPeakRows into all-zero peaks (a run's first shard), without the
 * merge: the rows with a value above 0, in storage order, each a view (of
 * `from`'s Wh and Wy, of one new array of `from`'s Wx rows), so `from` itself is
 * the merged peaks. Undefined when a value of `from` is neither above 0 nor +0
 * (NaN, below 0, −0: the merge would leave 0 there; never a peak).
 */
export function firstPatternPeakRows(from: PatternPeaks, hidden: number): PatternPeakRow[] | undefined {
  const H = hidden;
  // Per row, the OR of its values' bits (not 0: a value above 0) and of what is wrong with them (sign bit set: a value below 0, −0 or NaN).
  const wxBits = bitsOf(from.wx);
  const wxAny = new Int32Array(BYTE_VALUES);
  let wrong = 0;
  for (let j = 0, at = 0; j < H; j++) {
    for (let c = 0; c < BYTE_VALUES; c++, at++) {
      const bits = wxBits[at];
      wxAny[c] |= bits;
      wrong |= wrongBits(bits);
    }
  }
  // Plain loops, not a helper that returns an object: V8's compiled code of that helper left at its return on nearly every run (test/jit.test.ts).
  const whBits = bitsOf(from.wh);
  let whAny = 0;
  for (let k = 0; k < H * H; k++) {
    whAny |= whBits[k];
    wrong |= wrongBits(whBits[k]);
  }
  const wyBits = bitsOf(from.wy);
  const wyAny = new Int32Array(BYTE_VALUES);
  for (let y = 0, at = 0; y < BYTE_VALUES; y++) {
    for (let j = 0; j < H; j++, at++) {
      wyAny[y] |= wyBits[at];
      wrong |= wrongBits(wyBits[at]);
    }
  }
  if (wrong < 0) return undefined;
  const grown: PatternPeakRow[] = [];
  // Wx is j-major: its rows that have a value above 0 are gathered, each into H values of one new array.
  let wxGrown = 0;
  for (let c = 0; c < BYTE_VALUES; c++) if (wxAny[c] !== 0) wxGrown++;
  const wxRows = new Float32Array(wxGrown * H);
  for (let c = 0, at = 0; c < BYTE_VALUES; c++) {
    if (wxAny[c] === 0) continue;
    const row = wxRows.subarray(at, at + H);
    for (let j = 0; j < H; j++) row[j] = from.wx[j * BYTE_VALUES + c];
    grown.push({ cls: 'wx', row: c, peaks: row });
    at += H;
  }
  if (whAny !== 0) grown.push({ cls: 'wh', row: 0, peaks: from.wh });
  for (let y = 0; y < BYTE_VALUES; y++) if (wyAny[y] !== 0) grown.push({ cls: 'wy', row: y, peaks: from.wy.subarray(y * H, (y + 1) * H) });
  return grown;
}

/**
 * A float32's bits (as int32) with the sign bit set when the merge would not
 * take the value as it is (below 0, −0, NaN): +0 and the values above 0 (+∞ too)
 * are exactly those whose bits are 0 to those of +∞.
 */
function wrongBits(bits: number): number {
  return bits | (0x7f800000 - bits);
}

/** A float32 array's bits, as int32 (a view). */
function bitsOf(values: Float32Array): Int32Array {
  return new Int32Array(values.buffer, values.byteOffset, values.length);
}

/** into[k] = max(into[k], from[k]) for k in [begin, end); whether any grew. */
function maxInto(into: Float32Array, from: Float32Array, begin: number, end: number): boolean {
  let grew = false;
  for (let k = begin; k < end; k++) {
    if (from[k] > into[k]) {
      into[k] = from[k];
      grew = true;
    }
  }
  return grew;
}
