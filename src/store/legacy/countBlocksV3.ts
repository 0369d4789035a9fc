/**
 * Schema 3's count blocks (one BLOB of uint16 or uint32 little-endian counts,
 * n_x, n_h, n_y per position), for the migrations only.
 */
const COUNT_CLASSES = 3;

/** `values`: count × 3 counts (n_x, n_h, n_y per position), as a BLOB of the narrowest width that holds them. */
export function encodeCountBlockV3(values: Uint32Array): Buffer {
  let largest = 0;
  for (let k = 0; k < values.length; k++) if (values[k] > largest) largest = values[k];
  const narrow = largest <= 0xffff ? Uint16Array.from(values) : values;
  return Buffer.from(narrow.buffer, narrow.byteOffset, narrow.byteLength);
}

/** The counts of a block of `count` positions (n_x, n_h, n_y per position). */
export function decodeCountBlockV3(blob: Uint8Array, count: number): Uint16Array | Uint32Array {
  const width = blob.byteLength / (COUNT_CLASSES * count);
  if (width !== 2 && width !== 4) throw new RangeError(`a count block of ${blob.byteLength} bytes for ${count} positions`);
  // better-sqlite3 hands each BLOB over in a Buffer of its own; copy only when it is not aligned.
  const aligned = blob.byteOffset % width === 0 ? blob : new Uint8Array(blob);
  const length = blob.byteLength / width;
  return width === 2 ? new Uint16Array(aligned.buffer, aligned.byteOffset, length) : new Uint32Array(aligned.buffer, aligned.byteOffset, length);
}

/** Summary of a block, per block_stat(): sums per class, and min and max of n = n_x + n_h + n_y. */
export type BlockStat = 'sum_x' | 'sum_h' | 'sum_y' | 'min_n' | 'max_n';

export function blockStat(counts: Uint16Array | Uint32Array, stat: BlockStat): number {
  if (stat === 'sum_x' || stat === 'sum_h' || stat === 'sum_y') {
    const cls = stat === 'sum_x' ? 0 : stat === 'sum_h' ? 1 : 2;
    let sum = 0;
    for (let k = cls; k < counts.length; k += COUNT_CLASSES) sum += counts[k];
    return sum;
  }
  let extreme = stat === 'min_n' ? Infinity : -Infinity;
  for (let k = 0; k < counts.length; k += COUNT_CLASSES) {
    const n = counts[k] + counts[k + 1] + counts[k + 2];
    extreme = stat === 'min_n' ? Math.min(extreme, n) : Math.max(extreme, n);
  }
  return extreme;
}

/** Appends every position's n = n_x + n_h + n_y of a block to `totals`. */
export function appendTotals(counts: Uint16Array | Uint32Array, totals: number[]): void {
  for (let k = 0; k < counts.length; k += COUNT_CLASSES) totals.push(counts[k] + counts[k + 1] + counts[k + 2]);
}

/** Schema 3's sorted counts (`run_tau_stats.sorted_n`): a uint32 little-endian array, a view where the Buffer is aligned. */
export function uint32s(blob: Uint8Array): Uint32Array {
  if (blob.byteOffset % 4 === 0) return new Uint32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4);
  return new Uint32Array(new Uint8Array(blob).buffer);
}
