/**
 * The network as the engine sees it: the five float32 blocks of the spec, in
 * row-major order. `Wx[i][c]` is `wx[i * 256 + c]`, `Wh[i][j]` is `wh[i * H + j]`,
 * `Wy[o][j]` is `wy[o * H + j]`.
 */
export interface Model {
  readonly hidden: number;
  readonly wx: Float32Array;
  readonly wh: Float32Array;
  readonly bh: Float32Array;
  readonly wy: Float32Array;
  readonly by: Float32Array;
}

/** Input and output alphabet: bytes. */
export const BYTE_VALUES = 256;

/** Number of float32 values in a model file of hidden size H: H² + 513·H + 256. */
export function modelFloatCount(hidden: number): number {
  return hidden * hidden + 513 * hidden + 256;
}

/** Splits one flat float32 buffer (the file's layout) into the model's blocks, without copying. */
export function modelFromFloats(values: Float32Array, hidden: number): Model {
  const H = hidden;
  const expected = modelFloatCount(H);
  if (values.length !== expected) {
    throw new RangeError(`a model with H = ${H} has ${expected} float32 values, got ${values.length}`);
  }
  let offset = 0;
  const block = (length: number): Float32Array => {
    const view = values.subarray(offset, offset + length);
    offset += length;
    return view;
  };
  return {
    hidden: H,
    wx: block(H * BYTE_VALUES),
    wh: block(H * H),
    bh: block(H),
    wy: block(BYTE_VALUES * H),
    by: block(BYTE_VALUES),
  };
}
