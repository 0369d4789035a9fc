import { BYTE_VALUES, type Model } from './model.js';
import { createForwardKernel, type ForwardKernel } from './chain.js';

const fround = Math.fround;

/**
 * Forward pass (spec, "Forward pass"): returns `h_t` for t = 0 .. N-1 as one
 * N×H float32 array, row t at `t * H`. Every multiply and add is rounded to
 * float32, in the spec's order (s = bh[i] + Wx[i][x_t], then + Wh[i][j]·h_{t-1}[j]
 * for j = 0 .. H-1); no fused multiply-add. It runs in the chain kernel
 * (chain.wat, `forward`): the H² sum on Whᵀ, whose lanes are different i and whose
 * order over j is the spec's, and tanhf, the kernel's port of fdlibm, identical
 * to src/engine/tanhf.ts.
 */
export function forwardStates(model: Model, bytes: Uint8Array): Float32Array {
  return forwardKernel(model).states(bytes);
}

/** The model's forward kernel (chain.ts), its weights laid out for the kernel: make it once per model to compute many windows. */
export function forwardKernel(model: Model): ForwardKernel {
  return createForwardKernel(model.wh, model.bh, model.wx, model.hidden);
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
