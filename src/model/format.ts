import { modelFloatCount, modelFromFloats, type Model } from '../engine/index.js';
import { InputError } from '../errors.js';

/** Bytes in a model file of hidden size H: 4·(H² + 513·H + 256). */
export function modelFileSize(hidden: number): number {
  return 4 * modelFloatCount(hidden);
}

/** H for a file of `byteLength` bytes, or undefined when no H ≥ 1 fits. */
export function hiddenForFileSize(byteLength: number): number | undefined {
  if (byteLength % 4 !== 0) return undefined;
  // Solve H² + 513H + 256 - n = 0 for the positive root, then check exactly.
  const n = byteLength / 4;
  const root = Math.round((-513 + Math.sqrt(513 * 513 - 4 * (256 - n))) / 2);
  for (const H of [root - 1, root, root + 1]) {
    if (H >= 1 && modelFloatCount(H) === n) return H;
  }
  return undefined;
}

/** The valid model sizes just below and above `byteLength`, for error messages. */
export function nearestModelSizes(byteLength: number): { below?: { hidden: number; bytes: number }; above: { hidden: number; bytes: number } } {
  let H = 1;
  while (modelFileSize(H) <= byteLength) H++;
  const above = { hidden: H, bytes: modelFileSize(H) };
  const below = H > 1 ? { hidden: H - 1, bytes: modelFileSize(H - 1) } : undefined;
  return below && below.bytes !== byteLength ? { below, above } : { above };
}

/**
 * Parses a model file's bytes (spec, "Model file"): raw little-endian float32
 * blocks Wx, Wh, bh, Wy, by with H inferred from the size. `name` is used in errors.
 */
export function parseModel(contents: Uint8Array, name: string): Model {
  const hidden = hiddenForFileSize(contents.byteLength);
  if (hidden === undefined) {
    const { below, above } = nearestModelSizes(contents.byteLength);
    const options = [below, above]
      .filter((size) => size !== undefined)
      .map((size) => `${size.bytes} bytes (H = ${size.hidden})`)
      .join(' or ');
    throw new InputError(
      `model ${name}: size ${contents.byteLength} bytes fits no hidden size H; a model file has 4·(H² + 513·H + 256) bytes, the nearest being ${options}`,
    );
  }
  const values = new Float32Array(contents.byteLength / 4);
  if (LITTLE_ENDIAN) {
    // The file's byte order is the host's: one copy (a DataView loop took 6 ms on the Q1 model, cold).
    new Uint8Array(values.buffer).set(contents);
  } else {
    const view = new DataView(contents.buffer, contents.byteOffset, contents.byteLength);
    for (let k = 0; k < values.length; k++) values[k] = view.getFloat32(4 * k, true);
  }
  const model = modelFromFloats(values, hidden);
  for (const [block, array] of Object.entries(model)) {
    if (!(array instanceof Float32Array)) continue;
    const bad = firstNonFinite(array);
    if (bad >= 0) {
      throw new InputError(`model ${name}: ${block}[${bad}] is ${array[bad]}; every weight must be a finite number`);
    }
  }
  return model;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Index of the first NaN or ±Infinity, or -1 (a plain loop: this runs once per model, cold). */
function firstNonFinite(array: Float32Array): number {
  for (let k = 0; k < array.length; k++) if (!Number.isFinite(array[k])) return k;
  return -1;
}
