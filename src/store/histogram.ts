import { codePointsOf, decodeCodePoints } from './codePoints.js';

/**
 * A histogram of n as the store keeps it (`run_tau_stats`, `cohort_tau_stats`):
 * its `distinct_n` values of n ascending, the first `min_n`, each given by its
 * step from the one before (`hist_steps`: a code point array of one byte per
 * value, 0 for the first; a step of LARGE_STEP or more is LARGE_STEP there and
 * is the next element of `hist_large`, a code point array of those steps), and
 * how many positions have each (`hist_positions`). Steps between the distinct n
 * of a run are mostly small, so a value takes about a byte where it took up to
 * three, and a run's row at one τ fits half a page (schema 9).
 */
export interface StoredHistogram {
  readonly distinct_n: number;
  readonly min_n: number;
  readonly hist_steps: Uint8Array;
  readonly hist_large: Uint8Array;
  readonly hist_positions: Uint8Array;
}

/** In `hist_steps`, this value says: the step is the next element of `hist_large` (steps below it are kept as they are). */
export const LARGE_STEP = 126;

/** `hist_steps` and `hist_large` of ascending distinct values `n` (the first is the row's min_n). */
export function encodeSteps(n: ArrayLike<number>): { hist_steps: Buffer; hist_large: Buffer } {
  const steps = new Uint8Array(n.length);
  const large: number[] = [];
  for (let k = 1; k < n.length; k++) {
    const step = n[k] - n[k - 1];
    if (step < LARGE_STEP) steps[k] = step;
    else {
      steps[k] = LARGE_STEP;
      large.push(step);
    }
  }
  return { hist_steps: codePointsOf(steps), hist_large: codePointsOf(large) };
}

/** The ascending distinct values of a stored histogram. */
export function decodeSteps(row: Pick<StoredHistogram, 'distinct_n' | 'min_n' | 'hist_steps' | 'hist_large'>): Uint32Array {
  const steps = decodeCodePoints(row.hist_steps, row.distinct_n);
  let largeCount = 0;
  for (const step of steps) if (step === LARGE_STEP) largeCount++;
  const large = decodeCodePoints(row.hist_large, largeCount);
  const values = new Uint32Array(row.distinct_n);
  for (let k = 0, next = 0, n = row.min_n; k < row.distinct_n; k++) {
    if (k > 0) n += steps[k] === LARGE_STEP ? large[next++] : steps[k];
    values[k] = n;
  }
  return values;
}

/** Distinct n ascending, and how many positions have each. */
interface SortedEntries {
  readonly n: Uint32Array;
  readonly positions: Float64Array;
}

/** Entries a CountHistogram keeps unmerged at least (a few hundred runs' rows). */
const COMPACT_ENTRIES = 1 << 17;

/**
 * Ascending histograms as one: added up in an array indexed by n when their n
 * span no more than a few times their entries (a rollup's runs: a few thousand
 * n, hundreds of entries each), else merged pairwise (each entry about
 * log2(histograms) times).
 */
function mergeAll(histograms: readonly SortedEntries[]): SortedEntries {
  let lowest = Infinity;
  let highest = -Infinity;
  let entries = 0;
  for (const { n } of histograms) {
    if (n.length === 0) continue;
    lowest = Math.min(lowest, n[0]);
    highest = Math.max(highest, n[n.length - 1]);
    entries += n.length;
  }
  if (entries === 0) return histograms[0];
  const span = highest - lowest + 1;
  if (span <= Math.max(DENSE_SPAN, 4 * entries)) {
    const positions = new Float64Array(span);
    const present = new Uint8Array(span);
    let distinct = 0;
    for (const histogram of histograms) {
      for (let k = 0; k < histogram.n.length; k++) {
        const at = histogram.n[k] - lowest;
        positions[at] += histogram.positions[k];
        distinct += 1 - present[at];
        present[at] = 1;
      }
    }
    const merged = { n: new Uint32Array(distinct), positions: new Float64Array(distinct) };
    for (let at = 0, out = 0; at < span; at++) {
      if (present[at] === 0) continue;
      merged.n[out] = lowest + at;
      merged.positions[out++] = positions[at];
    }
    return merged;
  }
  let pending = histograms;
  while (pending.length > 1) {
    const next: SortedEntries[] = [];
    for (let k = 0; k < pending.length; k += 2) next.push(k + 1 < pending.length ? mergeEntries(pending[k], pending[k + 1]) : pending[k]);
    pending = next;
  }
  return pending[0];
}

/** mergeAll adds histograms up in an array indexed by n when they span at most this many n (or 4 × their entries). */
const DENSE_SPAN = 1 << 16;

/** Two ascending histograms as one (a stored row's n could repeat if it were damaged: added together too). */
function mergeEntries(a: SortedEntries, b: SortedEntries): SortedEntries {
  const n = new Uint32Array(a.n.length + b.n.length);
  const positions = new Float64Array(n.length);
  let i = 0;
  let j = 0;
  let out = 0;
  while (i < a.n.length || j < b.n.length) {
    const fromA = j >= b.n.length || (i < a.n.length && a.n[i] <= b.n[j]);
    const value = fromA ? a.n[i] : b.n[j];
    const count = fromA ? a.positions[i++] : b.positions[j++];
    if (out > 0 && n[out - 1] === value) positions[out - 1] += count;
    else {
      n[out] = value;
      positions[out++] = count;
    }
  }
  return { n: n.subarray(0, out), positions: positions.subarray(0, out) };
}

/**
 * How many positions have each n = n_x + n_h + n_y: the form in which the
 * store keeps a run's distribution at one τ (StoredHistogram) and in which
 * reports merge runs. Its size is the number of
 * distinct n (at most 3 × the largest class), never the number of positions, so
 * the median of any selection is exact in bounded memory.
 */
export class CountHistogram {
  private readonly positionsByN = new Map<number, number>();
  /**
   * Histograms added whole (addStored), ascending, each kept as it is until the
   * entries are read, then merged with the map's: a rollup adds a stored row per
   * run, and a map update per entry of each cost the writer's thread more than
   * the rest of the rollup. The sums are of integers, the same in any order.
   */
  private chunks: SortedEntries[] = [];
  /** Entries of `chunks`; past twice those of the last merge (and COMPACT_ENTRIES), they are merged, so memory stays bounded by the distinct n. */
  private chunkEntries = 0;
  private mergedEntries = 0;
  private positions = 0;
  /** The entries by ascending n, made once after the last addition. */
  private sorted: SortedEntries | undefined;

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

  /** Adds a stored histogram. */
  addStored(row: StoredHistogram): void {
    const n = decodeSteps(row);
    const positions = Float64Array.from(decodeCodePoints(row.hist_positions, row.distinct_n));
    for (let k = 0; k < positions.length; k++) this.positions += positions[k];
    this.chunks.push({ n, positions });
    this.chunkEntries += n.length;
    this.sorted = undefined;
    if (this.chunkEntries > Math.max(COMPACT_ENTRIES, 2 * this.mergedEntries)) this.ascending();
  }

  get total(): number {
    return this.positions;
  }

  private ascending(): SortedEntries {
    if (this.sorted === undefined) {
      const n = Uint32Array.from(this.positionsByN.keys()).sort();
      let merged: SortedEntries = { n, positions: Float64Array.from(n, (value) => this.positionsByN.get(value) as number) };
      if (this.chunks.length > 0) {
        merged = mergeAll([merged, ...this.chunks]);
        // The map's entries are in it: it is all there is (more additions are merged with it again).
        this.positionsByN.clear();
        this.chunks = [merged];
        this.chunkEntries = this.mergedEntries = merged.n.length;
      }
      this.sorted = merged;
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

  /** The stored form (StoredHistogram; its min_n is the smallest n, stored with the row's other figures). */
  encode(): { distinct_n: number; hist_steps: Buffer; hist_large: Buffer; hist_positions: Buffer } {
    const { n, positions } = this.ascending();
    return { distinct_n: n.length, ...encodeSteps(n), hist_positions: codePointsOf(positions) };
  }
}
