import { BYTE_VALUES, type Model } from './model.js';
import { outputDistribution, outputGradient } from './forward.js';
import { createChainKernel, type ChainKernel } from './chain.js';

const fround = Math.fround;

/** Wh candidates are skipped when |scaled[i]| < 1e-8, compared in float32 (spec, step 4). */
export const SCALED_GATE = fround(1e-8);

/** Pattern classes, in the order counts are laid out: n_x, n_h, n_y. */
export const CLASS_COUNT = 3;

/**
 * Everything a trace needs that does not change between positions: the model,
 * the window's bytes, the forward states h_t, the thresholds τ (as float32, in
 * the caller's order) and Dmax. The arrays may live in SharedArrayBuffers.
 */
export interface TraceInput {
  readonly model: Model;
  readonly bytes: Uint8Array;
  /** h_t for t = 0 .. N-1, row t at t·H (see forwardStates). */
  readonly states: Float32Array;
  readonly thresholds: Float32Array;
  readonly dmax: number;
}

/**
 * Layout of the per-pattern peak factors: one float32 array, elementwise-max
 * mergeable across ranges. A pattern's attribution at a position is a rounded
 * product `float32(factor · |w|)`, and rounding is monotone, so the maximum over
 * positions is `float32(max factor · |w|)`:
 * - `[0, H)`: for receiving neuron i, max |scaled[i]| over gated candidates (Wh j → i);
 * - `[H, H + 256·H)`: at `H + c·H + j`, max |b[j]| at offsets whose byte is c (Wx (c, j));
 * - `[H + 256·H, H + 512·H)`: at `H + 256·H + y·H + j`, max |g[j]| with target y (Wy (j, y)).
 */
export function peakFactorLength(hidden: number): number {
  return hidden + 2 * BYTE_VALUES * hidden;
}

/** Results for a contiguous range of positions `[start, start + count)`. */
export interface RangeResult {
  readonly start: number;
  readonly count: number;
  /** y = x_{t+1} per position. */
  readonly targets: Uint8Array;
  /** -log2 P_t[y] per position. */
  readonly surprisal: Float64Array;
  /** `[(p·T + k)·3 + class]`: n_x, n_h, n_y of position start+p at thresholds[k]. */
  readonly counts: Uint32Array;
  /** `[p·(Dmax+1) + d]`: depth mass of position start+p at offset d; NaN where d > t. */
  readonly depthMass: Float32Array;
  /** Peak factors over the range, see peakFactorLength. */
  readonly peakFactors: Float32Array;
}

/**
 * Per-model tables that make counting cheap: each Wh row's |w| sorted ascending
 * (a row's active count is then one binary search), and |Wx| transposed to
 * `[c·H + j]` so a byte's column is contiguous.
 */
export interface TraceTables {
  readonly whAbsSortedRows: Float32Array;
  readonly wxAbsByByte: Float32Array;
  readonly chain: ChainKernel;
}

/** Builds the per-model tables once (per worker); reuse them for every range. */
export function traceTables(model: Model): TraceTables {
  const H = model.hidden;
  const whAbsSortedRows = new Float32Array(H * H);
  for (let k = 0; k < H * H; k++) whAbsSortedRows[k] = Math.abs(model.wh[k]);
  for (let i = 0; i < H; i++) whAbsSortedRows.subarray(i * H, (i + 1) * H).sort();
  const wxAbsByByte = new Float32Array(BYTE_VALUES * H);
  for (let j = 0; j < H; j++) {
    for (let c = 0; c < BYTE_VALUES; c++) wxAbsByByte[c * H + j] = Math.abs(model.wx[j * BYTE_VALUES + c]);
  }
  return { whAbsSortedRows, wxAbsByByte, chain: createChainKernel(model.wh, H) };
}

/** Number of entries of the ascending `sortedAbs` with float32(factor · |w|) > τ. */
function countAboveInSortedRow(sortedAbs: Float32Array, from: number, length: number, factor: number, tau: number): number {
  let lo = 0;
  let hi = length; // first index whose product exceeds τ lies in [lo, hi]
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (fround(factor * sortedAbs[from + mid]) > tau) hi = mid;
    else lo = mid + 1;
  }
  return length - lo;
}

/**
 * Thresholds sorted ascending with their original positions, so one value can be
 * placed among all τ with a short search and counted for every τ at once.
 */
class ThresholdLadder {
  readonly ascending: Float32Array;
  readonly originalIndex: Int32Array;
  /** histogram[k] = values above exactly k of the ascending thresholds. */
  readonly histogram: Uint32Array;

  constructor(thresholds: Float32Array) {
    const order = Array.from(thresholds.keys()).sort((a, b) => thresholds[a] - thresholds[b]);
    this.ascending = Float32Array.from(order, (k) => thresholds[k]);
    this.originalIndex = Int32Array.from(order);
    this.histogram = new Uint32Array(thresholds.length + 1);
  }

  add(value: number): void {
    const taus = this.ascending;
    let lo = 0;
    let hi = taus.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (value > taus[mid]) lo = mid + 1;
      else hi = mid;
    }
    this.histogram[lo]++;
  }

  /** Writes the count above each τ into `counts[base + originalIndex·3 + cls]`, then clears. */
  flush(counts: Uint32Array, base: number, cls: number): void {
    const T = this.ascending.length;
    let above = 0;
    for (let k = T - 1; k >= 0; k--) {
      above += this.histogram[k + 1];
      counts[base + this.originalIndex[k] * CLASS_COUNT + cls] = above;
    }
    this.histogram.fill(0);
  }
}

/**
 * The backward trace of spec steps 1–6 for positions `[start, start + count)`:
 * per position the target, surprisal, n_x n_h n_y at every τ and the depth
 * mass per offset, and over the range the peak factors of every pattern.
 *
 * Patterns are never enumerated per position: for a fixed weight w the maximum
 * over offsets of float32(|a_d|·|w|) is float32(max_d |a_d| · |w|), so a
 * position only keeps one maximum per receiving neuron (Wh) and per
 * (byte, neuron) seen (Wx). The backward chain keeps the spec's summation order.
 */
export function traceRange(input: TraceInput, tables: TraceTables, start: number, count: number): RangeResult {
  const { model, bytes, states, thresholds, dmax } = input;
  const H = model.hidden;
  const { wx } = model;
  const T = thresholds.length;
  const depthSlots = dmax + 1;
  const { whAbsSortedRows, wxAbsByByte, chain } = tables;

  const targets = new Uint8Array(count);
  const surprisal = new Float64Array(count);
  const counts = new Uint32Array(count * T * CLASS_COUNT);
  const depthMass = new Float32Array(count * depthSlots).fill(NaN);
  const peakFactors = new Float32Array(peakFactorLength(H));
  const rangeScaledMax = peakFactors.subarray(0, H);
  const rangeInputMax = peakFactors.subarray(H, H + BYTE_VALUES * H);
  const rangeOutputMax = peakFactors.subarray(H + BYTE_VALUES * H);

  const probabilities = new Float64Array(BYTE_VALUES);
  const g = new Float32Array(H);
  // b lives in the chain kernel's output: scaled is computed from it, then run() overwrites it.
  const { v: scaled, out: b } = chain;
  const scaledMax = new Float32Array(H); // per position, per receiving neuron
  const inputMax = new Float32Array(BYTE_VALUES * H); // per position, [c·H + j]
  const seenBytes = new Uint8Array(BYTE_VALUES); // flags, per position
  const seenList = new Int32Array(BYTE_VALUES);
  const ladder = new ThresholdLadder(thresholds);

  for (let p = 0; p < count; p++) {
    const t = start + p;
    const y = bytes[t + 1];
    const countBase = p * T * CLASS_COUNT;
    targets[p] = y;

    outputDistribution(model, states.subarray(t * H, (t + 1) * H), probabilities);
    surprisal[p] = -Math.log2(probabilities[y]);
    outputGradient(model, probabilities, y, g);

    // d = 0: Wy patterns (j, y) get |g[j]|; mass is Σ|g| in float32.
    let mass = 0;
    const outputRow = y * H;
    for (let j = 0; j < H; j++) {
      const a = Math.abs(g[j]);
      mass = fround(mass + a);
      ladder.add(a);
      if (a > rangeOutputMax[outputRow + j]) rangeOutputMax[outputRow + j] = a;
    }
    ladder.flush(counts, countBase, 2);
    depthMass[p * depthSlots] = mass;

    // d = 1 .. min(Dmax, t): the chain b ← Whᵀ · scaled.
    b.set(g);
    scaledMax.fill(0);
    let seenCount = 0;
    const depth = Math.min(dmax, t);
    for (let d = 1; d <= depth; d++) {
      const hs = (t - d + 1) * H; // h_s with s = t - d + 1
      for (let i = 0; i < H; i++) {
        const h = states[hs + i];
        const sc = fround(fround(1 - fround(h * h)) * b[i]);
        scaled[i] = sc;
        const a = Math.abs(sc);
        if (a >= SCALED_GATE && a > scaledMax[i]) scaledMax[i] = a;
      }
      chain.run(); // new b[j] = Σ_i Wh[i][j]·scaled[i]

      // Wx patterns (c, j) with c = x_{t-d}.
      const c = bytes[t - d];
      if (seenBytes[c] === 0) {
        seenBytes[c] = 1;
        seenList[seenCount++] = c;
      }
      const column = c * H;
      let depthSum = 0;
      for (let j = 0; j < H; j++) {
        const bj = Math.abs(b[j]);
        depthSum = fround(depthSum + Math.abs(fround(wx[j * BYTE_VALUES + c] * b[j])));
        if (bj > inputMax[column + j]) inputMax[column + j] = bj;
      }
      depthMass[p * depthSlots + d] = depthSum;
    }

    // n_h: per receiving neuron one binary search per τ in its sorted |Wh| row.
    for (let k = 0; k < T; k++) {
      const tau = thresholds[k];
      let active = 0;
      for (let i = 0; i < H; i++) {
        const factor = scaledMax[i];
        if (factor !== 0) active += countAboveInSortedRow(whAbsSortedRows, i * H, H, factor, tau);
      }
      counts[countBase + k * CLASS_COUNT + 1] = active;
    }
    for (let i = 0; i < H; i++) if (scaledMax[i] > rangeScaledMax[i]) rangeScaledMax[i] = scaledMax[i];

    // n_x: every (c, j) with c seen in the window.
    for (let s = 0; s < seenCount; s++) {
      const column = seenList[s] * H;
      for (let j = 0; j < H; j++) {
        const factor = inputMax[column + j];
        if (factor === 0) continue;
        ladder.add(fround(factor * wxAbsByByte[column + j]));
        if (factor > rangeInputMax[column + j]) rangeInputMax[column + j] = factor;
        inputMax[column + j] = 0;
      }
      seenBytes[seenList[s]] = 0;
    }
    ladder.flush(counts, countBase, 0);
  }

  return { start, count, targets, surprisal, counts, depthMass, peakFactors };
}
