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

/** A shard size that gives every thread several shards of a window, within [16, 256]. */
export function defaultShardSize(positions: number, threads: number): number {
  return Math.max(16, Math.min(256, Math.ceil(positions / (threads * 4))));
}
