import { ExactSum } from '../engine/index.js';
import { appendTotals, blockStat, decodeCountBlock, type BlockStat } from './countBlocks.js';
import type { Db } from './db.js';

/**
 * SQL functions that every connection sparsetrace opens has (and so does
 * `sparsetrace sql`); docs/schema.md documents them. They exist because SQLite
 * has no float32 and no exact sum:
 *
 * - `exact_sum(x, …)`: aggregate, the exactly rounded sum of all its arguments over
 *   all rows (NULLs skipped); `exact_sum(mass_sum, mass_err)` adds a column of
 *   split sums back together; `exact_sum_residual(x, …)` is what that rounding
 *   left out, so (exact_sum, exact_sum_residual) is a split sum.
 * - `f32_max(blob)`: aggregate, the elementwise maximum of float32 arrays.
 * - `sorted_counts(n)`: aggregate, its integer arguments in ascending order as a
 *   BLOB of uint32 (little-endian); `sorted_median(sorted)` is the spec's median
 *   (element ⌊(count-1)/2⌋ in ascending order) of all values of such BLOBs, so a
 *   median over many runs needs no per-position rows.
 * - `active_count(peaks, tau)`: how many float32 values of a BLOB exceed float32(τ):
 *   the patterns of a peak row active at τ.
 * - `active_by_class(class, row, peaks, tau)`: aggregate, the patterns active at τ
 *   somewhere in the rows given, per class, as a JSON object: f32_max per (class,
 *   row) and active_count in one pass, with no GROUP BY sorting the BLOBs.
 * - `counts_of(start, count, counts)`: table-valued, the rows (t, n_x, n_h, n_y)
 *   of a count block (`count_blocks`); the `counts` view is made of it.
 * - `block_stat(count, counts, stat)`: of a count block, 'sum_x', 'sum_h' or
 *   'sum_y' (sums per class), 'min_n' or 'max_n' (of n = n_x + n_h + n_y).
 * - `sorted_totals(count, counts)`: aggregate, sorted_counts() of every n of the
 *   count blocks given.
 * - `peaks_of(class, row, peaks)`: table-valued, one row per pattern of a peak row
 *   with a non-zero peak: (src, dst, peak), identities as in the spec.
 */
export function registerFunctions(db: Db): void {
  const exactSumOf = (result: (sum: ExactSum) => number) => ({
    varargs: true,
    deterministic: true,
    start: () => new ExactSum(),
    step: (sum: ExactSum, ...values: unknown[]) => {
      for (const value of values) if (typeof value === 'number') sum.add(value);
      return sum;
    },
    result,
  });
  db.aggregate('exact_sum', exactSumOf((sum) => sum.value()));
  db.aggregate('exact_sum_residual', exactSumOf((sum) => sum.split()[1]));

  db.aggregate('f32_max', {
    deterministic: true,
    start: (): Float32Array | null => null,
    step: (max: Float32Array | null, blob: unknown) => {
      if (!Buffer.isBuffer(blob)) return max;
      const values = floats(blob);
      if (max === null) return Float32Array.from(values);
      if (max.length !== values.length) throw new RangeError(`f32_max: arrays of ${max.length} and ${values.length} floats`);
      for (let k = 0; k < max.length; k++) if (values[k] > max[k]) max[k] = values[k];
      return max;
    },
    result: (max: Float32Array | null) => (max === null ? null : Buffer.from(max.buffer, max.byteOffset, max.byteLength)),
  });

  db.aggregate('sorted_counts', {
    deterministic: true,
    start: (): number[] => [],
    step: (values: number[], n: unknown) => {
      if (typeof n === 'number' || typeof n === 'bigint') values.push(Number(n));
      return values;
    },
    result: (values: number[]) => {
      const sorted = Uint32Array.from(values).sort();
      return Buffer.from(sorted.buffer, sorted.byteOffset, sorted.byteLength);
    },
  });

  const blockOf = (count: unknown, blob: unknown) =>
    Buffer.isBuffer(blob) && typeof count === 'number' && count > 0 ? decodeCountBlock(blob, count) : undefined;

  db.table('counts_of', {
    columns: ['t', 'n_x', 'n_h', 'n_y'],
    parameters: ['start', 'count', 'counts'],
    rows: function* (start: unknown, count: unknown, blob: unknown) {
      const counts = blockOf(count, blob);
      if (counts === undefined || typeof start !== 'number') return;
      for (let p = 0; p < counts.length / 3; p++) yield [start + p, counts[3 * p], counts[3 * p + 1], counts[3 * p + 2]];
    },
  });

  db.function('block_stat', { deterministic: true }, (count: unknown, blob: unknown, stat: unknown) => {
    const counts = blockOf(count, blob);
    if (counts === undefined) return null;
    if (!['sum_x', 'sum_h', 'sum_y', 'min_n', 'max_n'].includes(String(stat))) throw new RangeError(`block_stat: no statistic ${String(stat)}`);
    return blockStat(counts, stat as BlockStat);
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

  db.aggregate('sorted_median', {
    deterministic: true,
    start: (): Uint32Array[] => [],
    step: (arrays: Uint32Array[], blob: unknown) => {
      // better-sqlite3 hands each BLOB over as a Buffer of its own, so a view can be kept.
      if (Buffer.isBuffer(blob) && blob.length > 0) arrays.push(uint32s(blob));
      return arrays;
    },
    result: (arrays: Uint32Array[]) => medianOfSorted(arrays),
  });

  db.aggregate('active_by_class', {
    start: (): PeakUnion => ({ tau: NaN, rows: new Map() }),
    step: (union: PeakUnion, cls?: unknown, row?: unknown, blob?: unknown, tau?: unknown) => {
      if (!Buffer.isBuffer(blob) || typeof tau !== 'number') return union;
      union.tau = tau;
      const key = `${String(cls)}:${String(row)}`;
      const values = floats(blob);
      const seen = union.rows.get(key);
      // better-sqlite3 hands each BLOB over in a Buffer of its own: keep the first as it is, copy only to merge.
      if (seen === undefined) union.rows.set(key, { max: values, owned: false });
      else {
        if (!seen.owned) {
          seen.max = Float32Array.from(seen.max);
          seen.owned = true;
        }
        const { max } = seen;
        for (let k = 0; k < max.length; k++) if (values[k] > max[k]) max[k] = values[k];
      }
      return union;
    },
    result: ({ tau, rows }: PeakUnion) => {
      const threshold = Math.fround(tau);
      const active: Record<string, number> = {};
      for (const [key, { max }] of rows) {
        const cls = key.slice(0, key.indexOf(':'));
        let above = 0;
        for (let k = 0; k < max.length; k++) if (max[k] > threshold) above++;
        active[cls] = (active[cls] ?? 0) + above;
      }
      return JSON.stringify(active);
    },
  });

  db.function('active_count', { deterministic: true }, (blob: unknown, tau: unknown) => {
    if (!Buffer.isBuffer(blob) || typeof tau !== 'number') return null;
    const threshold = Math.fround(tau);
    let active = 0;
    for (const peak of floats(blob)) if (peak > threshold) active++;
    return active;
  });

  db.table('peaks_of', {
    columns: ['src', 'dst', 'peak'],
    parameters: ['class', 'row', 'peaks'],
    rows: function* (cls: unknown, row: unknown, blob: unknown) {
      if (!Buffer.isBuffer(blob) || typeof row !== 'number') return;
      const peaks = floats(blob);
      const H = cls === 'wh' ? Math.round(Math.sqrt(peaks.length)) : peaks.length;
      for (let k = 0; k < peaks.length; k++) {
        if (!(peaks[k] > 0)) continue;
        // Identities per the spec, as (src, dst): Wx (c, j) at j of row c; Wy (j, y) at j of row y; Wh (j → i) at i·H + j.
        if (cls === 'wx') yield [row, k, peaks[k]];
        else if (cls === 'wy') yield [k, row, peaks[k]];
        else yield [k % H, Math.floor(k / H), peaks[k]];
      }
    },
  });
}

/** A float32 array over a BLOB: a view where the Buffer is aligned, else a copy. */
export function floats(blob: Uint8Array): Float32Array {
  if (blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Float32Array(new Uint8Array(blob).buffer);
}

/** active_by_class's state: τ and the elementwise maximum of each (class, row) seen. */
interface PeakUnion {
  tau: number;
  readonly rows: Map<string, { max: Float32Array; owned: boolean }>;
}

/**
 * The element at index ⌊(count-1)/2⌋ of the union of ascending arrays: the
 * smallest v with more than that many elements ≤ v, by bisection on v (each
 * step one binary search per array), so the cost is runs × log, not positions.
 */
export function medianOfSorted(arrays: readonly Uint32Array[]): number | null {
  const total = arrays.reduce((sum, array) => sum + array.length, 0);
  if (total === 0) return null;
  const wanted = Math.floor((total - 1) / 2) + 1;
  let lo = Math.min(...arrays.map((array) => array[0]));
  let hi = Math.max(...arrays.map((array) => array[array.length - 1]));
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    let atOrBelow = 0;
    for (const array of arrays) atOrBelow += upperBound(array, mid);
    if (atOrBelow >= wanted) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Elements ≤ value of an ascending array. */
function upperBound(array: Uint32Array, value: number): number {
  let lo = 0;
  let hi = array.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (array[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A uint32 array over a BLOB: a view where the Buffer is aligned, else a copy. */
export function uint32s(blob: Uint8Array): Uint32Array {
  if (blob.byteOffset % 4 === 0) return new Uint32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Uint32Array(new Uint8Array(blob).buffer);
}

/** A float32 array as a BLOB. */
export function blobOf(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}
