import { BYTE_VALUES, type PatternClass } from '../engine/index.js';

/**
 * The layout of one τ's activation frequencies (frequencyLength's): each class's
 * rows of H patterns, one after another (Wx's 256, Wh's H, Wy's 256), so row g
 * of all of them begins at g·H. No SQL here: worker threads use it too.
 */
export function frequencyRows(hidden: number): readonly { readonly cls: PatternClass; readonly rows: number; readonly offset: number }[] {
  const H = hidden;
  return [
    { cls: 'wx', rows: BYTE_VALUES, offset: 0 },
    { cls: 'wh', rows: H, offset: BYTE_VALUES * H },
    { cls: 'wy', rows: BYTE_VALUES, offset: BYTE_VALUES * H + H * H },
  ];
}

/** How many rows of H patterns one τ's frequencies have: 2·256 + H. */
export function frequencyRowCount(hidden: number): number {
  return 2 * BYTE_VALUES + hidden;
}

/** Where row `row` of class `cls` begins in frequencyLength's layout. */
export function frequencyRowOffset(hidden: number, cls: PatternClass, row: number): number {
  const rows = frequencyRows(hidden).find((entry) => entry.cls === cls);
  if (rows === undefined || !Number.isInteger(row) || row < 0 || row >= rows.rows) throw new RangeError(`no ${cls} frequency row ${row} for H = ${hidden}`);
  return rows.offset + row * hidden;
}

/** The class and row of row g of frequencyLength's layout. */
export function frequencyRowAt(hidden: number, g: number): { readonly cls: PatternClass; readonly row: number } {
  if (g < BYTE_VALUES) return { cls: 'wx', row: g };
  if (g < BYTE_VALUES + hidden) return { cls: 'wh', row: g - BYTE_VALUES };
  return { cls: 'wy', row: g - BYTE_VALUES - hidden };
}
