import { ExactSum } from '../engine/index.js';
import type { Db } from './db.js';

/**
 * SQL functions that every connection sparsetrace opens has (and so does
 * `sparsetrace sql`); docs/schema.md documents them. They are fast paths for
 * the report: no view needs them (the views are plain SQL, plainSql.ts). They
 * exist because SQLite has no float32 and no exact sum:
 *
 * - `exact_sum(x, …)`: aggregate, the exactly rounded sum of all its arguments over
 *   all rows (NULLs skipped); `exact_sum(mass_sum, mass_err)` adds a column of
 *   split sums back together; `exact_sum_residual(x, …)` is what that rounding
 *   left out, so (exact_sum, exact_sum_residual) is a split sum.
 * - `f32_max(blob)`: aggregate, the elementwise maximum of float32 arrays.
 * - `active_count(peaks, tau)`: how many float32 values of a BLOB exceed float32(τ):
 *   the patterns of a peak row active at τ.
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

  db.function('active_count', { deterministic: true }, (blob: unknown, tau: unknown) => {
    if (!Buffer.isBuffer(blob) || typeof tau !== 'number') return null;
    const threshold = Math.fround(tau);
    let active = 0;
    for (const peak of floats(blob)) if (peak > threshold) active++;
    return active;
  });
}

/** A float32 array over a BLOB: a view where the Buffer is aligned, else a copy. */
export function floats(blob: Uint8Array): Float32Array {
  if (blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Float32Array(new Uint8Array(blob).buffer);
}


/** A float32 array as a BLOB. */
export function blobOf(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}
