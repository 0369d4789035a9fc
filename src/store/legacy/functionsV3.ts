import type { Db } from '../db.js';
import { appendTotals, blockStat, decodeCountBlockV3, type BlockStat } from './countBlocksV3.js';

/**
 * The SQL functions schema 3's summaries need (TAU_STATS_SELECT_V3), for the
 * migrations that build schema 3 on the way to the current one.
 */
export function registerV3Functions(db: Db): void {
  const blockOf = (count: unknown, blob: unknown) =>
    Buffer.isBuffer(blob) && typeof count === 'number' && count > 0 ? decodeCountBlockV3(blob, count) : undefined;

  db.function('block_stat', { deterministic: true }, (count: unknown, blob: unknown, stat: unknown) => {
    const counts = blockOf(count, blob);
    if (counts === undefined) return null;
    return blockStat(counts, String(stat) as BlockStat);
  });

  db.aggregate('sorted_totals', {
    deterministic: true,
    start: (): number[] => [],
    step: (totals: number[], count?: unknown, blob?: unknown) => {
      const counts = blockOf(count, blob);
      if (counts !== undefined) appendTotals(counts, totals);
      return totals;
    },
    result: (totals: number[]) => {
      const sorted = Uint32Array.from(totals).sort();
      return Buffer.from(sorted.buffer, sorted.byteOffset, sorted.byteLength);
    },
  });
}
