import { BYTE_VALUES, type PatternClass } from '../engine/index.js';
import { floats } from './functions.js';

/**
 * A pattern's *level* in a run: how many of the run's thresholds (as float32)
 * its peak attribution exceeds. It is what never-active counts need at every τ
 * of the run, in a byte instead of a float32, and it merges over runs by max
 * (the level of the largest peak), so a job keeps one per pattern however many
 * runs it has (rollups.ts).
 */
export interface PatternLevels {
  readonly cls: PatternClass;
  readonly row: number;
  readonly levels: Uint32Array;
}

/** The thresholds as float32, ascending (a run's τ list, which holds no two equal float32). */
export function sortedThresholds(tauF32: readonly number[]): Float64Array {
  return Float64Array.from(tauF32).sort();
}

/** Thresholds strictly below `peak`: the pattern's level. */
function levelOf(peak: number, thresholds: Float64Array): number {
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (peak > thresholds[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The levels of one stored peak row (`pattern_peak_rows.peaks`, float32). */
export function levelsOfPeaks(peaks: Uint8Array, thresholds: Float64Array): Uint32Array {
  return levelsOfValues(floats(peaks), thresholds);
}

/** The levels of peaks (float32). */
export function levelsOfValues(values: Float32Array, thresholds: Float64Array): Uint32Array {
  const levels = new Uint32Array(values.length);
  const lowest = thresholds.length > 0 ? thresholds[0] : Infinity;
  // Most peaks (0) exceed no threshold: not above the lowest is level 0 (NaN too), without the search.
  for (let k = 0; k < values.length; k++) if (values[k] > lowest) levels[k] = levelOf(values[k], thresholds);
  return levels;
}

/** Per class, the patterns active at each threshold rank 0 … T − 1 of rows of levels. */
export function activeByRank(rows: Iterable<PatternLevels>, thresholdCount: number): Record<PatternClass, number[]> {
  const active: Record<PatternClass, number[]> = { wx: new Array(thresholdCount).fill(0), wh: new Array(thresholdCount).fill(0), wy: new Array(thresholdCount).fill(0) };
  for (const { cls, levels } of rows) {
    // Patterns per level, then a running sum from the top: level > rank.
    const atLevel = new Array<number>(thresholdCount + 1).fill(0);
    for (let k = 0; k < levels.length; k++) atLevel[levels[k]]++;
    let above = 0;
    for (let rank = thresholdCount - 1; rank >= 0; rank--) {
      above += atLevel[rank + 1];
      active[cls][rank] += above;
    }
  }
  return active;
}

/** Whether a run stores peak row `row` of class `cls` (a row it does not store is zeros). */
type IsStored = (cls: PatternClass, row: number) => boolean;

/**
 * activeByRank of a run's merged peaks held in memory (engine layout: wx, wh, wy
 * arrays of float32), without reading and decoding its stored rows: the same
 * counts, since the stored rows are those peaks and a row never stored is zeros,
 * which no threshold ≥ 0 counts. `stored` (class, row): whether that peak row is
 * stored; the others are zeros and are not read. Undefined when a threshold is below 0.
 * Its loops are functions of the module, not closures made per call, which V8
 * compiled again every few runs (test/jit.test.ts).
 */
export function activeOfPeaks(
  peaks: { readonly wx: Float32Array; readonly wh: Float32Array; readonly wy: Float32Array },
  thresholds: Float64Array,
  stored: IsStored = () => true,
): Record<PatternClass, number[]> | undefined {
  if (thresholds.length > 0 && !(thresholds[0] >= 0)) return undefined;
  const buckets = levelBuckets(thresholds);
  const wh = new Float64Array(thresholds.length + 1);
  if (stored('wh', 0)) countLevels(peaks.wh, 0, peaks.wh.length, 1, buckets, thresholds, wh);
  return { wx: rowsOf('wx', peaks.wx, stored, buckets, thresholds), wh: byRank(wh), wy: rowsOf('wy', peaks.wy, stored, buckets, thresholds) };
}

/** Patterns active at each threshold rank of the stored rows of Wx or Wy: BYTE_VALUES rows of H, Wx j-major (row c is every BYTE_VALUES-th value from c), Wy row-major. */
function rowsOf(cls: 'wx' | 'wy', values: Float32Array, stored: IsStored, buckets: Int32Array, thresholds: Float64Array): number[] {
  const H = values.length / BYTE_VALUES;
  const atLevel = new Float64Array(thresholds.length + 1);
  for (let row = 0; row < BYTE_VALUES; row++) {
    if (!stored(cls, row)) continue;
    if (cls === 'wx') countLevels(values, row, values.length, BYTE_VALUES, buckets, thresholds, atLevel);
    else countLevels(values, row * H, (row + 1) * H, 1, buckets, thresholds, atLevel);
  }
  return byRank(atLevel);
}

/**
 * Adds to atLevel[level] the values [begin, end) of `values`, every `step`-th, by
 * their level (levelBuckets' table, else levelOf). Level 0 (most peaks: every
 * pattern of a byte the window never reads or predicts is 0) is counted too, but
 * no rank reads it.
 */
function countLevels(values: Float32Array, begin: number, end: number, step: number, buckets: Int32Array, thresholds: Float64Array, atLevel: Float64Array): void {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const lowest = thresholds.length > 0 ? thresholds[0] : Infinity;
  for (let k = begin; k < end; k += step) {
    const level = buckets[bits[k] >>> BUCKET_SHIFT];
    if (level >= 0) atLevel[level]++;
    else {
      const value = values[k];
      atLevel[value > lowest ? levelOf(value, thresholds) : 0]++;
    }
  }
}

/** Patterns active at each threshold rank 0 … T − 1 from patterns per level (T + 1 levels): a running sum from the top, level > rank. */
function byRank(atLevel: Float64Array): number[] {
  const count = atLevel.length - 1;
  const active = new Array<number>(count).fill(0);
  let above = 0;
  for (let rank = count - 1; rank >= 0; rank--) {
    above += atLevel[rank + 1];
    active[rank] = above;
  }
  return active;
}

/** A float32's bucket: the top 12 bits of its bits (sign, exponent, the 3 highest bits of the mantissa). */
const BUCKET_SHIFT = 20;
const BUCKETS = 1 << (32 - BUCKET_SHIFT);

/** levelBuckets' last thresholds and buckets: a sweep's runs have the same. */
let lastBuckets: { readonly thresholds: Float64Array; readonly buckets: Int32Array } | undefined;

/**
 * Per bucket of float32 values (BUCKET_SHIFT), the level (levelOf) that all its
 * values have, or −1 where a threshold falls within it (and for the two buckets
 * that hold both NaNs and numbers): their levels are searched. Within a bucket
 * of numbers, a float32 grows (or, below 0, shrinks) with its bits, so its level
 * lies between those of the bucket's ends: equal ends, the same level throughout.
 * A level found in a table rather than by a binary search whose branches the
 * processor cannot predict (most peaks of a run exceed some threshold).
 */
function levelBuckets(thresholds: Float64Array): Int32Array {
  if (lastBuckets !== undefined && lastBuckets.thresholds.length === thresholds.length && lastBuckets.thresholds.every((value, k) => value === thresholds[k])) {
    return lastBuckets.buckets;
  }
  const buckets = new Int32Array(BUCKETS);
  const ends = new Uint32Array(2);
  const value = new Float32Array(ends.buffer);
  for (let bucket = 0; bucket < BUCKETS; bucket++) {
    ends[0] = bucket * 2 ** BUCKET_SHIFT;
    ends[1] = ends[0] + 2 ** BUCKET_SHIFT - 1;
    const mixed = Number.isNaN(value[0]) !== Number.isNaN(value[1]);
    const low = levelOf(value[0], thresholds);
    buckets[bucket] = !mixed && low === levelOf(value[1], thresholds) ? low : -1;
  }
  lastBuckets = { thresholds: Float64Array.from(thresholds), buckets };
  return buckets;
}
