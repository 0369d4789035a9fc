import type { Db } from '../store/index.js';
import { activeCountDistribution, type ActiveCountRow, type Runs } from '../store/index.js';

/**
 * The distribution of active patterns per position at one τ, in bins that
 * double: 0, 1, 2–3, 4–7, … (a log-scale histogram). Every bin from 0 up to the
 * largest n is listed, empty ones with 0 positions.
 */
export interface HistogramBin {
  /** Smallest and largest n of the bin. */
  readonly from: number;
  readonly to: number;
  readonly label: string;
  readonly positions: number;
}

export function binActiveCounts(rows: readonly ActiveCountRow[]): HistogramBin[] {
  const largest = rows.reduce((max, row) => Math.max(max, row.n), 0);
  const bins: { from: number; to: number; positions: number }[] = [{ from: 0, to: 0, positions: 0 }];
  for (let from = 1; from <= largest; from *= 2) bins.push({ from, to: 2 * from - 1, positions: 0 });
  for (const row of rows) {
    const index = row.n === 0 ? 0 : 1 + Math.floor(Math.log2(row.n));
    // log2 of a power of two can come out a hair low or high in floating point: place by the bounds.
    let k = Math.min(Math.max(index, 0), bins.length - 1);
    while (k > 0 && row.n < bins[k].from) k--;
    while (k + 1 < bins.length && row.n > bins[k].to) k++;
    bins[k].positions += row.positions;
  }
  return bins.map((bin) => ({ ...bin, label: bin.from === bin.to ? String(bin.from) : `${bin.from}–${bin.to}` }));
}

/** The histogram of n = n_x + n_h + n_y over the selection's positions at τ (a τ stored in the runs). */
export function activeCountHistogram(db: Db, runs: Runs, tau: number): HistogramBin[] {
  return binActiveCounts(activeCountDistribution(db, runs, tau));
}
