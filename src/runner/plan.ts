import type { CommittedRange } from '../store/index.js';
import { CorruptStoreError } from '../errors.js';

export interface ShardRange {
  readonly start: number;
  readonly count: number;
}

/**
 * The shards still to compute for a run of `positions` positions: the gaps
 * between committed ranges, cut into contiguous pieces of at most `shardSize`.
 * Throws if committed ranges overlap or run past the end (a corrupt store).
 */
export function planShards(positions: number, committed: readonly CommittedRange[], shardSize: number): ShardRange[] {
  const shards: ShardRange[] = [];
  let next = 0;
  const cut = (from: number, to: number): void => {
    for (let start = from; start < to; start += shardSize) shards.push({ start, count: Math.min(shardSize, to - start) });
  };
  for (const range of [...committed].sort((a, b) => a.start - b.start)) {
    if (range.start < next || range.start + range.count > positions) {
      throw new CorruptStoreError(`the store is inconsistent: committed shard [${range.start}, ${range.start + range.count}) overlaps another or lies outside 0..${positions} (shards table edited by hand?)`);
    }
    cut(next, range.start);
    next = range.start + range.count;
  }
  cut(next, positions);
  return shards;
}

/** Depth-mass slots (positions × (Dmax + 1) float32) a shard may hold: 256 positions at the largest Dmax, 64 MiB. */
const MAX_SHARD_DEPTH_SLOTS = 256 * 65_537;

/**
 * A shard size that leaves every thread at least four shards of `positionsLeft`
 * (what the job has left from this run on), within [16, 1024]. Each shard costs
 * a transaction and a merge of the run's pattern peaks, so shards are as large as
 * balance allows: a sweep of many windows is cut into shards of up to 1024
 * positions (about 0.15 s of one thread at Dmax 50, also what a kill can lose),
 * and its last runs and a one-window job finely. A shard's depth masses
 * (positions × (Dmax + 1)) stay within 64 MiB, so a huge Dmax gets smaller shards.
 */
export function defaultShardSize(positionsLeft: number, threads: number, dmax = 0): number {
  const balanced = Math.max(16, Math.min(1024, Math.ceil(positionsLeft / (threads * 4))));
  return Math.min(balanced, Math.max(16, Math.floor(MAX_SHARD_DEPTH_SLOTS / (dmax + 1))));
}
