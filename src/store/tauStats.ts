import { decodeCountBlock, totalsOf } from './countBlocks.js';
import type { Db } from './db.js';
import { CountHistogram } from './histogram.js';
import { perConnection } from './statements.js';
import type { TauSumRow } from './sums.js';

/**
 * A run's summary at one τ (a `run_tau_stats` row): what every figure of the
 * report needs from its positions' counts. Written when a run finishes;
 * computed from the count blocks on the fly for a run that has not.
 */
export interface TauStats extends TauSumRow {
  readonly tau_index: number;
  readonly median_n: number;
  readonly hist_steps: Buffer;
  readonly hist_large: Buffer;
  readonly hist_positions: Buffer;
}

const blocksOf = perConnection((db: Db) => db.prepare(`SELECT tau_index, count, n_x, n_h, n_y FROM count_blocks WHERE run_key = ? ORDER BY tau_index, start`));

interface Accumulator {
  positions: number;
  sums: [number, number, number];
  min: number;
  max: number;
  histogram: CountHistogram;
}

/** The run's summaries per τ, from its count blocks (one block decoded at a time). */
export function tauStatsOfRun(db: Db, runKey: number): TauStats[] {
  const byTau = new Map<number, Accumulator>();
  for (const block of blocksOf(db).iterate(runKey) as Iterable<{ tau_index: number; count: number; n_x: Buffer; n_h: Buffer; n_y: Buffer }>) {
    let acc = byTau.get(block.tau_index);
    if (acc === undefined) {
      acc = { positions: 0, sums: [0, 0, 0], min: Infinity, max: -Infinity, histogram: new CountHistogram() };
      byTau.set(block.tau_index, acc);
    }
    const counts = decodeCountBlock(block, block.count);
    for (let k = 0; k < counts.length; k++) acc.sums[k % 3] += counts[k];
    const totals = totalsOf(counts);
    for (let p = 0; p < totals.length; p++) {
      if (totals[p] < acc.min) acc.min = totals[p];
      if (totals[p] > acc.max) acc.max = totals[p];
    }
    acc.histogram.addAll(totals);
    acc.positions += block.count;
  }
  return [...byTau].map(([tauIndex, acc]) => ({
    tau_index: tauIndex,
    positions: acc.positions,
    sum_x: acc.sums[0],
    sum_h: acc.sums[1],
    sum_y: acc.sums[2],
    min_n: acc.min,
    max_n: acc.max,
    median_n: acc.histogram.median() as number,
    ...acc.histogram.encode(),
  }));
}
