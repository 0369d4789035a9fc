import { codePointsOf } from './codePoints.js';
import { encodeSteps } from './histogram.js';
import type { ShardCounts } from './shardRows.js';
import type { TauStats } from './tauStats.js';

/** One τ of a run's summaries, added up over its shards: the histogram of n as ascending distinct n and their positions. */
interface TauAccumulator {
  readonly sums: [number, number, number];
  n: Uint32Array;
  positions: Float64Array;
}

/**
 * A run's per-τ summaries (run_tau_stats) added up from its shards' ShardCounts
 * as they are committed, so that finishing a run does not read and decode its
 * count blocks again (tauStatsOfRun). The same figures: sums of integers, and
 * the histogram of n (its extremes, its median, its stored form), which do not
 * depend on the order or the cut of the shards. The shards' histograms come
 * sorted, so they are merged, not hashed (CountHistogram's map, then a sort,
 * was a tenth of the writer's thread).
 */
export class RunSummaries {
  private readonly byTau: TauAccumulator[];

  constructor(thresholdCount: number) {
    this.byTau = Array.from({ length: thresholdCount }, () => ({ sums: [0, 0, 0], n: new Uint32Array(0), positions: new Float64Array(0) }));
  }

  /** Adds a committed shard's counts (per τ index). */
  add(counts: readonly ShardCounts[]): void {
    for (let k = 0; k < counts.length; k++) {
      const acc = this.byTau[k];
      for (let c = 0; c < 3; c++) acc.sums[c] += counts[k].sums[c];
      mergeInto(acc, counts[k]);
    }
  }

  /** The run's rows, as tauStatsOfRun gives them from its count blocks (τ with no position left out). */
  stats(): TauStats[] {
    const rows: TauStats[] = [];
    for (let k = 0; k < this.byTau.length; k++) {
      const { sums, n, positions } = this.byTau[k];
      let total = 0;
      for (const count of positions) total += count;
      if (total === 0) continue;
      rows.push({
        tau_index: k,
        positions: total,
        sum_x: sums[0],
        sum_h: sums[1],
        sum_y: sums[2],
        min_n: n[0],
        max_n: n[n.length - 1],
        median_n: medianOf(n, positions, total),
        distinct_n: n.length,
        ...encodeSteps(n),
        hist_positions: codePointsOf(positions),
      });
    }
    return rows;
  }
}

/** Merges a shard's ascending (n, positions) into the run's. */
function mergeInto(acc: TauAccumulator, shard: ShardCounts): void {
  const a = acc.n;
  const b = shard.n;
  const n = new Uint32Array(a.length + b.length);
  const positions = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let out = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) {
      n[out] = a[i];
      positions[out++] = acc.positions[i++];
    } else if (i >= a.length || b[j] < a[i]) {
      n[out] = b[j];
      positions[out++] = shard.positions[j++];
    } else {
      n[out] = a[i];
      positions[out++] = acc.positions[i++] + shard.positions[j++];
    }
  }
  acc.n = n.subarray(0, out);
  acc.positions = positions.subarray(0, out);
}

/** The spec's median: the element at index ⌊(N − 1)/2⌋ of the ascending counts. */
function medianOf(n: Uint32Array, positions: Float64Array, total: number): number {
  const index = Math.floor((total - 1) / 2);
  let below = 0;
  for (let k = 0; k < n.length; k++) {
    below += positions[k];
    if (below > index) return n[k];
  }
  throw new Error('unreachable: a histogram whose positions do not add up');
}
