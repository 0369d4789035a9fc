import { decodeCodePoints, encodeCodePoints } from './codePoints.js';

/**
 * The counts of one shard at one τ (a `count_blocks` row): per class, the
 * counts of the shard's positions in order of t, as a code point array
 * (codePoints.ts), so plain SQL reads them. The engine hands over counts
 * interleaved (n_x, n_h, n_y per position); one row per shard and τ instead of
 * one per position and τ is what keeps the writer off the workers' backs.
 */
export interface CountBlock {
  readonly n_x: Buffer;
  readonly n_h: Buffer;
  readonly n_y: Buffer;
}

const COUNT_CLASSES = 3;

/** `values`: count × 3 counts (n_x, n_h, n_y per position). */
export function encodeCountBlock(values: ArrayLike<number>): CountBlock {
  const count = values.length / COUNT_CLASSES;
  return {
    n_x: encodeCodePoints(values, 0, COUNT_CLASSES, count),
    n_h: encodeCodePoints(values, 1, COUNT_CLASSES, count),
    n_y: encodeCodePoints(values, 2, COUNT_CLASSES, count),
  };
}

/** The counts of a block of `count` positions, interleaved (n_x, n_h, n_y per position). */
export function decodeCountBlock(block: { readonly n_x: Uint8Array; readonly n_h: Uint8Array; readonly n_y: Uint8Array }, count: number): Uint32Array {
  const values = new Uint32Array(COUNT_CLASSES * count);
  [block.n_x, block.n_h, block.n_y].forEach((column, cls) => {
    const counts = decodeCodePoints(column, count);
    for (let p = 0; p < count; p++) values[COUNT_CLASSES * p + cls] = counts[p];
  });
  return values;
}

/** Every position's n = n_x + n_h + n_y of interleaved counts. */
export function totalsOf(counts: ArrayLike<number>): Uint32Array {
  const totals = new Uint32Array(counts.length / COUNT_CLASSES);
  for (let p = 0; p < totals.length; p++) totals[p] = counts[3 * p] + counts[3 * p + 1] + counts[3 * p + 2];
  return totals;
}
