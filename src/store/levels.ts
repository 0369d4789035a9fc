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

/**
 * activeByRank of a run's merged peaks held in memory (engine layout: wx, wh, wy
 * arrays of float32), without reading and decoding its stored rows: the same
 * counts, since the stored rows are those peaks and a row never stored is zeros,
 * which no threshold ≥ 0 counts. `stored` (class, row): whether that peak row is
 * stored; the others are zeros and are not read. Undefined when a threshold is below 0.
 */
export function activeOfPeaks(
  peaks: { readonly wx: Float32Array; readonly wh: Float32Array; readonly wy: Float32Array },
  thresholds: Float64Array,
  stored: (cls: PatternClass, row: number) => boolean = () => true,
): Record<PatternClass, number[]> | undefined {
  if (thresholds.length > 0 && !(thresholds[0] >= 0)) return undefined;
  const count = thresholds.length;
  const lowest = count > 0 ? thresholds[0] : Infinity;
  // Most peaks (every pattern of a byte the window never reads or predicts: 0) exceed no threshold; level 0 is not counted (no rank reads it).
  const countLevels = (values: Float32Array, begin: number, end: number, step: number, atLevel: Float64Array): void => {
    for (let k = begin; k < end; k += step) {
      const value = values[k];
      if (value > lowest) atLevel[levelOf(value, thresholds)]++;
    }
  };
  const byRank = (atLevel: Float64Array): number[] => {
    const active = new Array<number>(count).fill(0);
    let above = 0;
    for (let rank = count - 1; rank >= 0; rank--) {
      above += atLevel[rank + 1];
      active[rank] = above;
    }
    return active;
  };
  const rowsOf = (cls: 'wx' | 'wy', values: Float32Array): number[] => {
    // BYTE_VALUES rows of H: Wx j-major (row c is every BYTE_VALUES-th value from c), Wy row-major.
    const H = values.length / BYTE_VALUES;
    const atLevel = new Float64Array(count + 1);
    for (let row = 0; row < BYTE_VALUES; row++) {
      if (!stored(cls, row)) continue;
      if (cls === 'wx') countLevels(values, row, values.length, BYTE_VALUES, atLevel);
      else countLevels(values, row * H, (row + 1) * H, 1, atLevel);
    }
    return byRank(atLevel);
  };
  const wh = new Float64Array(count + 1);
  if (stored('wh', 0)) countLevels(peaks.wh, 0, peaks.wh.length, 1, wh);
  return { wx: rowsOf('wx', peaks.wx), wh: byRank(wh), wy: rowsOf('wy', peaks.wy) };
}
