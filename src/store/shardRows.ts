import { frequencyLength, RangeView, type RangeResult } from '../engine/index.js';
import { codePointsOf } from './codePoints.js';
import { encodeCountBlock, totalsOf, type CountBlock } from './countBlocks.js';
import { frequencyRowCount } from './frequencyLayout.js';

/**
 * What the writer stores of a shard, made from the engine's results beforehand
 * (a worker thread makes them, so the writer's thread, which every other thread
 * waits on, only runs INSERTs): per τ its count block, encoded, and the figures
 * the run's summaries add up (its sums and the histogram of its n); per frequency
 * τ the code point array of each frequency row with a pattern active. No SQL and
 * nothing of the run's: the same for a shard whichever thread makes it.
 */
export interface ShardRows {
  /** Per τ index. */
  readonly counts: readonly ShardCounts[];
  /** Per frequency τ (FREQUENCY_TAUS order), per row g of frequencyLength's layout: its code point array of H counts, or null when none is active. */
  readonly frequencies: readonly (readonly (Buffer | null)[])[];
}

/** A shard's counts at one τ. */
export interface ShardCounts {
  readonly block: CountBlock;
  /** Σ n_x, Σ n_h, Σ n_y over the shard's positions. */
  readonly sums: readonly [number, number, number];
  /** The distinct n = n_x + n_h + n_y of its positions, ascending, and how many positions have each. */
  readonly n: Uint32Array;
  readonly positions: Uint32Array;
}

/** The rows of a shard of `thresholdCount` τ (its frequencies: as many τ as `range.frequency` holds). */
export function shardRowsOf(range: RangeResult, thresholdCount: number, dmax: number, hidden: number): ShardRows {
  const view = new RangeView(range, thresholdCount, dmax);
  const counts: ShardCounts[] = [];
  for (let k = 0; k < thresholdCount; k++) counts.push(shardCountsOf(view.countsAt(k)));
  const frequency = range.frequency ?? new Uint32Array(0);
  const length = frequencyLength(hidden);
  const frequencies: (Buffer | null)[][] = [];
  for (let at = 0; at + length <= frequency.length; at += length) frequencies.push(frequencyRowsOf(frequency.subarray(at, at + length), hidden));
  return { counts, frequencies };
}

/** `values`: count × 3 counts (n_x, n_h, n_y per position). */
function shardCountsOf(values: Uint32Array): ShardCounts {
  const sums: [number, number, number] = [0, 0, 0];
  for (let k = 0; k < values.length; k += 3) {
    sums[0] += values[k];
    sums[1] += values[k + 1];
    sums[2] += values[k + 2];
  }
  const totals = totalsOf(values).sort();
  let distinct = 0;
  for (let p = 0; p < totals.length; p++) if (p === 0 || totals[p] !== totals[p - 1]) distinct++;
  const n = new Uint32Array(distinct);
  const positions = new Uint32Array(distinct);
  for (let p = 0, d = -1; p < totals.length; p++) {
    if (p === 0 || totals[p] !== totals[p - 1]) n[++d] = totals[p];
    positions[d]++;
  }
  return { block: encodeCountBlock(values), sums, n, positions };
}

/** One τ's frequencies: per row of H patterns, its code point array if a pattern of it is active, else null. */
function frequencyRowsOf(shard: Uint32Array, hidden: number): (Buffer | null)[] {
  const rows: (Buffer | null)[] = [];
  for (let g = 0, begin = 0; g < frequencyRowCount(hidden); g++, begin += hidden) {
    let active = false;
    for (let p = begin; p < begin + hidden; p++) {
      if (shard[p] !== 0) {
        active = true;
        break;
      }
    }
    rows.push(active ? codePointsOf(shard.subarray(begin, begin + hidden)) : null);
  }
  return rows;
}
