import { CountHistogram } from './histogram.js';
import type { ShardCounts } from './shardRows.js';
import type { TauStats } from './tauStats.js';

/** One τ of a run's summaries, added up over its shards. */
interface TauAccumulator {
  positions: number;
  readonly sums: [number, number, number];
  min: number;
  max: number;
  readonly histogram: CountHistogram;
}

/**
 * A run's per-τ summaries (run_tau_stats) added up from its shards' ShardCounts
 * as they are committed, so that finishing a run does not read and decode its
 * count blocks again (tauStatsOfRun). The same figures: sums of integers, the
 * extremes, and the histogram of n (from which the median and the stored
 * histogram come) do not depend on the order or the cut of the shards.
 */
export class RunSummaries {
  private readonly byTau: TauAccumulator[];

  constructor(thresholdCount: number) {
    this.byTau = Array.from({ length: thresholdCount }, () => ({ positions: 0, sums: [0, 0, 0], min: Infinity, max: -Infinity, histogram: new CountHistogram() }));
  }

  /** Adds a committed shard's counts (per τ index). */
  add(counts: readonly ShardCounts[]): void {
    counts.forEach((shard, k) => {
      const acc = this.byTau[k];
      for (let c = 0; c < 3; c++) acc.sums[c] += shard.sums[c];
      for (let d = 0; d < shard.n.length; d++) {
        acc.histogram.add(shard.n[d], shard.positions[d]);
        acc.positions += shard.positions[d];
      }
      if (shard.n.length > 0) {
        acc.min = Math.min(acc.min, shard.n[0]);
        acc.max = Math.max(acc.max, shard.n[shard.n.length - 1]);
      }
    });
  }

  /** The run's rows, as tauStatsOfRun gives them from its count blocks (τ with no position left out). */
  stats(): TauStats[] {
    const rows: TauStats[] = [];
    this.byTau.forEach((acc, k) => {
      if (acc.positions === 0) return;
      rows.push({
        tau_index: k,
        positions: acc.positions,
        sum_x: acc.sums[0],
        sum_h: acc.sums[1],
        sum_y: acc.sums[2],
        min_n: acc.min,
        max_n: acc.max,
        median_n: acc.histogram.median() as number,
        ...acc.histogram.encode(),
      });
    });
    return rows;
  }
}
