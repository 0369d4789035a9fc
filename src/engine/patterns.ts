import { BYTE_VALUES, type Model } from './model.js';
import type { TraceTables } from './trace.js';

const fround = Math.fround;

/**
 * Peak attribution of every pattern over a run, laid out like the weights
 * themselves: `wx[j·256 + c]` is Wx pattern (c, j), `wh[i·H + j]` is Wh pattern
 * j → i, `wy[o·H + j]` is Wy pattern (j, o). 0 means the pattern had no candidate.
 */
export interface PatternPeaks {
  readonly wx: Float32Array;
  readonly wh: Float32Array;
  readonly wy: Float32Array;
}

/** Merges range peak factors (see peakFactorLength) into `into`, elementwise max. */
export function mergePeakFactors(into: Float32Array, from: Float32Array): void {
  for (let k = 0; k < into.length; k++) if (from[k] > into[k]) into[k] = from[k];
}

/** Expands merged peak factors into per-pattern peaks: float32(factor · |w|). */
export function patternPeaks(model: Model, peakFactors: Float32Array): PatternPeaks {
  const H = model.hidden;
  const scaledMax = peakFactors.subarray(0, H);
  const inputMax = peakFactors.subarray(H, H + BYTE_VALUES * H);
  const outputMax = peakFactors.subarray(H + BYTE_VALUES * H);
  const wx = new Float32Array(H * BYTE_VALUES);
  for (let j = 0; j < H; j++) {
    for (let c = 0; c < BYTE_VALUES; c++) {
      wx[j * BYTE_VALUES + c] = fround(inputMax[c * H + j] * Math.abs(model.wx[j * BYTE_VALUES + c]));
    }
  }
  const wh = new Float32Array(H * H);
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < H; j++) wh[i * H + j] = fround(scaledMax[i] * Math.abs(model.wh[i * H + j]));
  }
  const wy = Float32Array.from(outputMax); // Wy attribution is |g[j]| itself
  return { wx, wh, wy };
}

/**
 * patternPeaks computed by the trace kernel of the same model (trace.wat,
 * `peaks`): the same peaks bit for bit, each one f32.mul, without a cold
 * JavaScript loop over every pattern in each of a worker's first shards.
 */
export function patternPeaksInKernel(tables: TraceTables, peakFactors: Float32Array): PatternPeaks {
  return tables.kernel.patternPeaks(peakFactors);
}

/** Weights with |w| > 0.01 (float32 compare), per class and in total. */
export interface SignificantCounts {
  readonly wx: number;
  readonly wh: number;
  readonly wy: number;
  readonly total: number;
}

export const SIGNIFICANT_WEIGHT = fround(0.01);

export function significantCounts(model: Model): SignificantCounts {
  const wx = countSignificant(model.wx);
  const wh = countSignificant(model.wh);
  const wy = countSignificant(model.wy);
  return { wx, wh, wy, total: wx + wh + wy };
}

// A plain loop: it runs once per model, cold, where reduce()'s callback costs 3–6 ms on the Q1 model.
function countSignificant(weights: Float32Array): number {
  let count = 0;
  for (let k = 0; k < weights.length; k++) if (Math.abs(weights[k]) > SIGNIFICANT_WEIGHT) count++;
  return count;
}
