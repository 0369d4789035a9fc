import { codePointsOf, decodeCodePoints } from './codePoints.js';

/**
 * How many positions have each n = n_x + n_h + n_y: the form in which the
 * store keeps a run's distribution at one τ (`run_tau_stats.hist_n`,
 * `hist_positions`) and in which reports merge runs. Its size is the number of
 * distinct n (at most 3 × the largest class), never the number of positions, so
 * the median of any selection is exact in bounded memory.
 */
export class CountHistogram {
  private readonly positionsByN = new Map<number, number>();
  private positions = 0;

  add(n: number, positions = 1): void {
    this.positionsByN.set(n, (this.positionsByN.get(n) ?? 0) + positions);
    this.positions += positions;
  }

  /** Adds a stored histogram: `distinct` values of n and their positions, as code point arrays. */
  addStored(histN: Uint8Array, histPositions: Uint8Array, distinct: number): void {
    const values = decodeCodePoints(histN, distinct);
    const positions = decodeCodePoints(histPositions, distinct);
    for (let k = 0; k < distinct; k++) this.add(values[k], positions[k]);
  }

  get total(): number {
    return this.positions;
  }

  /** (n, positions) by ascending n. */
  entries(): { n: number; positions: number }[] {
    return [...this.positionsByN].sort(([a], [b]) => a - b).map(([n, positions]) => ({ n, positions }));
  }

  /** The spec's median: the element at index ⌊(N − 1)/2⌋ of the ascending counts; null when empty. */
  median(): number | null {
    if (this.positions === 0) return null;
    const index = Math.floor((this.positions - 1) / 2);
    let below = 0;
    for (const { n, positions } of this.entries()) {
      below += positions;
      if (below > index) return n;
    }
    throw new Error('unreachable: a histogram whose positions do not add up');
  }

  /** The stored form: `distinct_n` values, and `hist_n`, `hist_positions` as code point arrays by ascending n. */
  encode(): { distinct_n: number; hist_n: Buffer; hist_positions: Buffer } {
    const entries = this.entries();
    return {
      distinct_n: entries.length,
      hist_n: codePointsOf(entries.map((entry) => entry.n)),
      hist_positions: codePointsOf(entries.map((entry) => entry.positions)),
    };
  }
}
