import { ExactSum } from '../engine/index.js';
import { CountHistogram } from './histogram.js';

/**
 * Adding up stored summaries, exactly: what a report does over a selection and
 * what a rollup does over its runs (queries.ts, rollups.ts).
 */

/** A depth profile row: positions where offset d exists, and the split exact sum of their mass. */
export interface DepthSumRow {
  readonly d: number;
  readonly positions: number;
  readonly mass_sum: number;
  readonly mass_err: number;
}

/** Depth profiles added up per offset d. */
export class DepthSums {
  private readonly byD = new Map<number, { positions: number; mass: ExactSum }>();

  add(row: DepthSumRow): void {
    let into = this.byD.get(row.d);
    if (into === undefined) {
      into = { positions: 0, mass: new ExactSum() };
      this.byD.set(row.d, into);
    }
    into.positions += row.positions;
    into.mass.add(row.mass_sum);
    into.mass.add(row.mass_err);
  }

  /** Per d, ascending: positions and the exact mass. */
  entries(): { d: number; positions: number; mass: ExactSum }[] {
    return [...this.byD].sort(([a], [b]) => a - b).map(([d, { positions, mass }]) => ({ d, positions, mass }));
  }
}

/** A summary at one τ (`run_tau_stats`, `cohort_tau_stats`). */
export interface TauSumRow {
  readonly positions: number;
  readonly sum_x: number;
  readonly sum_h: number;
  readonly sum_y: number;
  readonly min_n: number;
  readonly max_n: number;
  readonly distinct_n: number;
  readonly hist_steps: Uint8Array;
  readonly hist_large: Uint8Array;
  readonly hist_positions: Uint8Array;
}

/** Summaries at one τ added up: sums, extremes, and the histograms of n merged. */
export class TauSums {
  positions = 0;
  sum_x = 0;
  sum_h = 0;
  sum_y = 0;
  min_n = Infinity;
  max_n = -Infinity;
  readonly #histogram = new CountHistogram();
  /** The only row so far, its histogram not decoded: alone, its stored median is the answer (a group of one run). */
  #pending: (TauSumRow & { readonly median_n?: number }) | undefined;
  #rows = 0;

  add(row: TauSumRow & { readonly median_n?: number }): void {
    this.positions += row.positions;
    this.sum_x += row.sum_x;
    this.sum_h += row.sum_h;
    this.sum_y += row.sum_y;
    this.min_n = Math.min(this.min_n, row.min_n);
    this.max_n = Math.max(this.max_n, row.max_n);
    this.#rows += 1;
    if (this.#rows === 1) {
      this.#pending = row;
      return;
    }
    this.#decodePending();
    this.#histogram.addStored(row);
  }

  #decodePending(): void {
    if (this.#pending === undefined) return;
    this.#histogram.addStored(this.#pending);
    this.#pending = undefined;
  }

  /** The spec's median of n over the rows added: a single row's stored median, else the merged histograms'. */
  median(): number | null {
    if (this.#rows === 1 && this.#pending?.median_n !== undefined && this.#pending.median_n !== null) return this.#pending.median_n;
    return this.histogram.median();
  }

  /** The merged histogram of n. */
  get histogram(): CountHistogram {
    this.#decodePending();
    return this.#histogram;
  }
}
