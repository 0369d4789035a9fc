import { BYTE_VALUES, type Model } from './model.js';
import { tanhf } from './tanhf.js';

const fround = Math.fround;

/**
 * Forward pass (spec, "Forward pass"): returns `h_t` for t = 0 .. N-1 as one
 * N×H float32 array, row t at `t * H`. Every multiply and add is rounded to
 * float32, in the spec's order; no fused multiply-add.
 */
export function forwardStates(model: Model, bytes: Uint8Array): Float32Array {
  const H = model.hidden;
  const { wx, wh, bh } = model;
  const states = new Float32Array(bytes.length * H);
  let previous = new Float32Array(H); // h_{-1} = 0
  for (let t = 0; t < bytes.length; t++) {
    const x = bytes[t];
    const current = states.subarray(t * H, (t + 1) * H);
    for (let i = 0; i < H; i++) {
      let s = fround(bh[i] + wx[i * BYTE_VALUES + x]);
      const row = i * H;
      for (let j = 0; j < H; j++) s = fround(s + fround(wh[row + j] * previous[j]));
      current[i] = tanhf(s);
    }
    previous = current;
  }
  return states;
}

/**
 * Output distribution after h_t (spec): `logit[o] = by[o] + Σ_j float32(Wy[o][j]·h_t[j])`
 * summed in double in order j, then a double softmax. Writes P_t into `probabilities`.
 */
export function outputDistribution(model: Model, state: Float32Array, probabilities: Float64Array): void {
  const H = model.hidden;
  const { wy, by } = model;
  let maxLogit = -Infinity;
  for (let o = 0; o < BYTE_VALUES; o++) {
    let logit: number = by[o];
    const row = o * H;
    for (let j = 0; j < H; j++) logit += fround(wy[row + j] * state[j]);
    probabilities[o] = logit;
    if (logit > maxLogit) maxLogit = logit;
  }
  let sum = 0;
  for (let o = 0; o < BYTE_VALUES; o++) {
    const e = Math.exp(probabilities[o] - maxLogit);
    probabilities[o] = e;
    sum += e;
  }
  for (let o = 0; o < BYTE_VALUES; o++) probabilities[o] /= sum;
}

/**
 * Output gradient (spec, backward step 1): `g[j] = float32(Wy[y][j] - Σ_o Wy[o][j]·P_t[o])`,
 * the sum in double in order o, rounded to float32 once.
 */
export function outputGradient(model: Model, probabilities: Float64Array, target: number, g: Float32Array): void {
  const H = model.hidden;
  const { wy } = model;
  const sums = new Float64Array(H);
  // o outer keeps each sum in order o while reading Wy row by row.
  for (let o = 0; o < BYTE_VALUES; o++) {
    const p = probabilities[o];
    const row = o * H;
    for (let j = 0; j < H; j++) sums[j] += wy[row + j] * p;
  }
  const targetRow = target * H;
  for (let j = 0; j < H; j++) g[j] = wy[targetRow + j] - sums[j];
}
