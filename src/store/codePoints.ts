/**
 * Arrays of non-negative integers as BLOBs that plain SQL can read: each value
 * is one Unicode code point, UTF-8 encoded, every value of an array with the
 * same number of bytes w (1 to 4, the narrowest that holds the largest value).
 * SQLite's built-in `unicode(substr(blob, k·w + 1, w))` reads element k, so the
 * views decode these arrays in any SQLite client, with no function of ours:
 *
 * | w | code points            | values          | value = cp −                     |
 * |---|------------------------|-----------------|----------------------------------|
 * | 1 | U+0001 … U+007F        | 0 … 126         | 1                                |
 * | 2 | U+0080 … U+07FF        | 0 … 1,919       | 128                              |
 * | 3 | U+0800 … U+FFFD, no surrogates | 0 … 61,437 | 2,048, or 4,096 above U+DFFF |
 * | 4 | U+10000 … U+10FFFF     | 0 … 1,048,575   | 65,536                           |
 * | 5 | 0x110000 … 2²⁶ − 1     | 0 … 65,994,751  | 0x110000                         |
 * | 6 | 2²⁶ … 2³¹ − 1          | 0 … 2,080,374,783 | 2²⁶                            |
 *
 * U+0000 is left out (unicode() stops at a NUL), so are the surrogates
 * U+D800–U+DFFF and U+FFFE/U+FFFF (SQLite reads those as U+FFFD). Small values
 * take one byte: a count block of the sat-rnn is smaller than as uint16. Widths
 * 5 and 6 are the 5- and 6-byte forms of the original UTF-8 (RFC 2279), beyond
 * Unicode: SQLite's unicode() reads them (a test checks it in the `sqlite3`
 * shell), and only a histogram of millions of positions needs them.
 */
export const CODE_POINT_MAX_VALUE = 0x7fffffff - 0x4000000;

/** The largest value each width holds (index w − 1). */
const WIDTH_LIMITS = [126, 1919, 61437, 0x10ffff - 0x10000, 0x3ffffff - 0x110000, CODE_POINT_MAX_VALUE] as const;

type Width = 1 | 2 | 3 | 4 | 5 | 6;

/** The width an array whose largest value is `largest` takes. */
export function codePointWidth(largest: number): Width {
  for (let w = 0; w < WIDTH_LIMITS.length; w++) if (largest <= WIDTH_LIMITS[w]) return (w + 1) as Width;
  throw new RangeError(`a value of ${largest} does not fit a code point array (at most ${CODE_POINT_MAX_VALUE})`);
}

/**
 * Encodes `length` values of `values`, every `step`-th from `first` (so a class
 * can be taken out of interleaved counts without a copy). Each loop is a
 * function of its own: V8 compiles a hot loop on its own (on-stack
 * replacement) together with the rest of its function, and such code for a
 * function of several loops left again at a loop or a width not yet run, every
 * time (hundreds of times a sweep).
 */
export function encodeCodePoints(values: ArrayLike<number>, first: number, step: number, length: number): Buffer {
  const width = codePointWidth(largestOf(values, first, step, length));
  const bytes = Buffer.allocUnsafe(length * width);
  if (width === 1) encodeNarrow(bytes, values, first, step, length);
  else if (width === 2) encodeTwo(bytes, values, first, step, length);
  else if (width === 3) encodeThree(bytes, values, first, step, length);
  else encodeWide(bytes, values, first, step, length, width);
  return bytes;
}

/** The largest of the values; a RangeError if one is not an integer ≥ 0. */
function largestOf(values: ArrayLike<number>, first: number, step: number, length: number): number {
  let largest = 0;
  for (let k = 0; k < length; k++) {
    const value = values[first + k * step];
    if (!(Number.isInteger(value) && value >= 0)) throw new RangeError(`a code point array holds integers ≥ 0, not ${value}`);
    if (value > largest) largest = value;
  }
  return largest;
}

function encodeNarrow(bytes: Buffer, values: ArrayLike<number>, first: number, step: number, length: number): void {
  for (let k = 0; k < length; k++) bytes[k] = values[first + k * step] + 1;
}

function encodeTwo(bytes: Buffer, values: ArrayLike<number>, first: number, step: number, length: number): void {
  for (let k = 0, at = 0; k < length; k++, at += 2) {
    const cp = values[first + k * step] + 0x80;
    bytes[at] = 0xc0 | (cp >> 6);
    bytes[at + 1] = 0x80 | (cp & 0x3f);
  }
}

function encodeThree(bytes: Buffer, values: ArrayLike<number>, first: number, step: number, length: number): void {
  for (let k = 0, at = 0; k < length; k++, at += 3) {
    const value = values[first + k * step];
    const cp = value + (value >= 0xd800 - 0x800 ? 0x1000 : 0x800);
    bytes[at] = 0xe0 | (cp >> 12);
    bytes[at + 1] = 0x80 | ((cp >> 6) & 0x3f);
    bytes[at + 2] = 0x80 | (cp & 0x3f);
  }
}

function encodeWide(bytes: Buffer, values: ArrayLike<number>, first: number, step: number, length: number, width: number): void {
  for (let k = 0; k < length; k++) writeWide(bytes, k * width, values[first + k * step], width);
}

/** One value of 4 to 6 bytes: lead 11110xxx (4), 111110xx (5), 1111110x (6), then 6 bits per continuation byte. */
function writeWide(bytes: Buffer, at: number, value: number, width: number): void {
  const cp = value + (width === 4 ? 0x10000 : width === 5 ? 0x110000 : 0x4000000);
  const lead = width === 4 ? 0xf0 : width === 5 ? 0xf8 : 0xfc;
  bytes[at] = lead | Math.floor(cp / 2 ** (6 * (width - 1)));
  for (let k = 1; k < width; k++) bytes[at + k] = 0x80 | (Math.floor(cp / 2 ** (6 * (width - 1 - k))) & 0x3f);
}

/** Encodes an array of values. */
export function codePointsOf(values: ArrayLike<number>): Buffer {
  return encodeCodePoints(values, 0, 1, values.length);
}

/** The values of a code point array of `length` elements (its width is its byte length ÷ length). */
export function decodeCodePoints(blob: Uint8Array, length: number): Uint32Array {
  const values = new Uint32Array(length);
  if (length === 0) {
    if (blob.byteLength !== 0) throw new RangeError(`a code point array of ${blob.byteLength} bytes for no values`);
    return values;
  }
  const width = blob.byteLength / length;
  if (!Number.isInteger(width) || width < 1 || width > 6) {
    throw new RangeError(`a code point array of ${blob.byteLength} bytes for ${length} values`);
  }
  for (let k = 0, at = 0; k < length; k++, at += width) {
    if (width === 1) values[k] = blob[at] - 1;
    else if (width === 2) values[k] = (((blob[at] & 0x1f) << 6) | (blob[at + 1] & 0x3f)) - 0x80;
    else if (width === 3) {
      const cp = ((blob[at] & 0x0f) << 12) | ((blob[at + 1] & 0x3f) << 6) | (blob[at + 2] & 0x3f);
      values[k] = cp - (cp > 0xdfff ? 0x1000 : 0x800);
    } else {
      let cp = blob[at] & (width === 4 ? 0x07 : width === 5 ? 0x03 : 0x01);
      for (let j = 1; j < width; j++) cp = cp * 64 + (blob[at + j] & 0x3f);
      values[k] = cp - (width === 4 ? 0x10000 : width === 5 ? 0x110000 : 0x4000000);
    }
  }
  return values;
}
