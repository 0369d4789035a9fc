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
  /** The entries by ascending n, made once after the last addition. */
  private sorted: { readonly n: Uint32Array; readonly positions: Float64Array } | undefined;

  add(n: number, positions = 1): void {
    this.positionsByN.set(n, (this.positionsByN.get(n) ?? 0) + positions);
    this.positions += positions;
    this.sorted = undefined;
  }

  /** Adds every value of an array (e.g. a block's totals): sorted first, so each distinct n costs one map update. */
  addAll(values: Uint32Array): void {
    const sorted = Uint32Array.from(values).sort();
    for (let k = 0; k < sorted.length; ) {
      let next = k + 1;
      while (next < sorted.length && sorted[next] === sorted[k]) next++;
      this.add(sorted[k], next - k);
      k = next;
    }
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

  private ascending(): { readonly n: Uint32Array; readonly positions: Float64Array } {
    if (this.sorted === undefined) {
      const n = Uint32Array.from(this.positionsByN.keys()).sort();
      this.sorted = { n, positions: Float64Array.from(n, (value) => this.positionsByN.get(value) as number) };
    }
    return this.sorted;
  }

  /** (n, positions) by ascending n. */
  entries(): { n: number; positions: number }[] {
    const { n, positions } = this.ascending();
    return Array.from(n, (value, k) => ({ n: value, positions: positions[k] }));
  }

  /** The spec's median: the element at index ⌊(N − 1)/2⌋ of the ascending counts; null when empty. */
  median(): number | null {
    if (this.positions === 0) return null;
    const index = Math.floor((this.positions - 1) / 2);
    const { n, positions } = this.ascending();
    let below = 0;
    for (let k = 0; k < n.length; k++) {
      below += positions[k];
      if (below > index) return n[k];
    }
    throw new Error('unreachable: a histogram whose positions do not add up');
  }

  /** The stored form: `distinct_n` values, and `hist_n`, `hist_positions` as code point arrays by ascending n. */
  encode(): { distinct_n: number; hist_n: Buffer; hist_positions: Buffer } {
    const { n, positions } = this.ascending();
    return { distinct_n: n.length, hist_n: codePointsOf(n), hist_positions: codePointsOf(positions) };
  }
}
