import { BYTE_VALUES, modelFloatCount, modelFromFloats, type Model } from '../src/engine/index.js';

/** A case of the engine against the plain implementation: a random model of `hidden` neurons and `length` random bytes. */
export interface RandomCase {
  readonly hidden: number;
  readonly length: number;
  readonly dmax: number;
  readonly seed: number;
  /** Bytes are drawn from 0 .. alphabet-1; a small alphabet repeats Wx patterns within one position's depth. */
  readonly alphabet: number;
  /** Multiplies Wx and Wh; large gains saturate tanhf to exactly ±1, so scaled is exactly 0. */
  readonly gain: number;
}

/** mulberry32: a tiny seeded PRNG, so a failing case can be rerun exactly (as in engine.test.ts). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random model with nontrivial dynamics (the construction of engine.test.ts):
 * Wx in ±gain, Wh in ±2·gain/√H, about 10% exact zeros and 5% tiny weights,
 * and for H ≥ 2 a last neuron planted near saturation so the 1e-8 gate skips
 * nonzero scaled values.
 */
export function randomModel(random: () => number, H: number, gain: number): Model {
  const model = modelFromFloats(new Float32Array(modelFloatCount(H)), H);
  const uniform = (scale: number): number => (2 * random() - 1) * scale;
  const weight = (scale: number): number => {
    const kind = random();
    if (kind < 0.1) return 0;
    if (kind < 0.15) return uniform(1) * 10 ** -(6 + 4 * random());
    return uniform(scale);
  };
  for (let k = 0; k < model.wx.length; k++) model.wx[k] = weight(gain);
  for (let k = 0; k < model.wh.length; k++) model.wh[k] = weight((2 * gain) / Math.sqrt(H));
  for (let k = 0; k < H; k++) model.bh[k] = uniform(0.5);
  for (let k = 0; k < model.wy.length; k++) model.wy[k] = weight(1);
  for (let k = 0; k < BYTE_VALUES; k++) model.by[k] = uniform(1);
  if (H >= 2) {
    const n = H - 1;
    model.bh[n] = 8.5;
    for (let c = 0; c < BYTE_VALUES; c++) model.wx[n * BYTE_VALUES + c] = 0;
    for (let j = 0; j < H; j++) {
      model.wh[n * H + j] = uniform(1e-9);
      model.wh[j * H + n] = uniform(1e-9);
    }
    for (let o = 0; o < BYTE_VALUES; o++) model.wy[o * H + n] = uniform(0.01);
  }
  return model;
}

/** A model file's bytes (its float32 blocks in the file's order) holding randomModel's model of `H` neurons, seeded. */
export function randomModelFile(H: number, seed: number, gain = 1): Uint8Array {
  const model = randomModel(mulberry32(seed), H, gain);
  return new Uint8Array(model.wx.buffer, model.wx.byteOffset, modelFloatCount(H) * 4);
}

/**
 * An H = 8 model file's bytes from a seeded linear congruential generator, weights
 * uniform in ±0.75: a second model beside sat_model.bin for tests of sweeps,
 * groupings and reports, where any model other than the shipped one does.
 */
export function smallModelFile(seed: number): Uint8Array {
  const H = 8;
  const weights = new Float32Array(modelFloatCount(H));
  let state = seed;
  for (let k = 0; k < weights.length; k++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    weights[k] = (state / 2 ** 32 - 0.5) * 1.5;
  }
  return new Uint8Array(weights.buffer);
}
