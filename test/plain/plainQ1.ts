/**
 * A deliberately plain implementation of shared/spec/q1-sparsity.md, written
 * from the spec text alone, as an independent check of the engine. It keeps an
 * attribution for every pattern at every position and follows each step
 * literally; it is slow on purpose (no shortcuts to get wrong).
 *
 * Weight layout (the model file's): Wx[i][c] = wx[i·256 + c], Wh[i][j] = wh[i·H + j],
 * Wy[o][j] = wy[o·H + j]. Pattern attributions use the same layout as the weight
 * they belong to: Wx pattern (c, j) at [j·256 + c], Wh pattern j → i at [i·H + j],
 * Wy pattern (j, o) at [o·H + j].
 *
 * Besides the spec's rule (q1), the attribution rules of src/engine/computation.ts,
 * each written here from its definition (issue 20 for gated-wx), not from the engine.
 */
import type { Model } from '../../src/engine/index.js';
import { tanhf } from '../../src/engine/index.js';

const f32 = Math.fround;
const BYTES = 256;
const SCALED_GATE = f32(1e-8);

/**
 * The rules this implementation knows. q1: the spec. gated-wx: the Wx candidate
 * at offset d is |float32(Wx[j][c] · float32(float32(1 − float32(h_{t−d}[j]·h_{t−d}[j])) · b[j]))|
 * (b the new b of step 4, c = x_{t−d}), the depth mass at d their float32 sum;
 * everything else as the spec says.
 */
export const PLAIN_RULES = ['q1', 'gated-wx'] as const;
export type PlainRule = (typeof PLAIN_RULES)[number];

export interface PlainResult {
  /** y = x_{t+1} per position t = 0 .. N-2. */
  targets: number[];
  /** -log2 P_t[y] per position. */
  surprisal: number[];
  /** counts[t][k] = [n_x, n_h, n_y] at thresholds[k]. */
  counts: number[][][];
  /** depthMass[t][d] for d = 0 .. Dmax; NaN where d > t. */
  depthMass: number[][];
  /** Per-pattern maximum attribution over all positions (0 if never a candidate). */
  peaks: { wx: Float32Array; wh: Float32Array; wy: Float32Array };
  /**
   * Activation frequency: frequency[k] per pattern (the peaks' layout), the number of
   * positions where its attribution exceeds thresholds[k] (float32), strictly.
   */
  frequency: { wx: Uint32Array; wh: Uint32Array; wy: Uint32Array }[];
  /** How often a Wh row was skipped by the gate although scaled[i] was not 0 (shows the gate was exercised). */
  gatedNonzero: number;
}

/** Forward pass: h_t for t = 0 .. N-1, every multiply and add rounded to float32. */
function forward(model: Model, bytes: Uint8Array): Float32Array[] {
  const H = model.hidden;
  const states: Float32Array[] = [];
  let previous = new Float32Array(H);
  for (let t = 0; t < bytes.length; t++) {
    const h = new Float32Array(H);
    for (let i = 0; i < H; i++) {
      let s = f32(model.bh[i] + model.wx[i * BYTES + bytes[t]]);
      for (let j = 0; j < H; j++) s = f32(s + f32(model.wh[i * H + j] * previous[j]));
      h[i] = tanhf(s);
    }
    states.push(h);
    previous = h;
  }
  return states;
}

/** P_t in double: logit[o] = by[o] + Σ_j float32(Wy[o][j]·h[j]) in order j, then softmax. */
function outputDistribution(model: Model, h: Float32Array): number[] {
  const H = model.hidden;
  const logits: number[] = [];
  for (let o = 0; o < BYTES; o++) {
    let logit = model.by[o];
    for (let j = 0; j < H; j++) logit += f32(model.wy[o * H + j] * h[j]);
    logits.push(logit);
  }
  const max = Math.max(...logits);
  const exps = logits.map((logit) => Math.exp(logit - max));
  let sum = 0;
  for (const e of exps) sum += e;
  return exps.map((e) => e / sum);
}

/** Sees every pattern's attribution at position t (laid out as in PlainResult.peaks), for per-pattern checks. */
export type PositionHook = (t: number, attributions: { wx: Float32Array; wh: Float32Array; wy: Float32Array }) => void;

export function plainQ1(model: Model, bytes: Uint8Array, thresholds: number[], dmax: number, onPosition?: PositionHook): PlainResult {
  return plainAttribution(model, bytes, thresholds, dmax, 'q1', onPosition);
}

/** The spec's computation under `rule` (see PLAIN_RULES). */
export function plainAttribution(model: Model, bytes: Uint8Array, thresholds: number[], dmax: number, rule: PlainRule, onPosition?: PositionHook): PlainResult {
  const H = model.hidden;
  const taus = thresholds.map(f32);
  const states = forward(model, bytes);
  const result: PlainResult = {
    targets: [],
    surprisal: [],
    counts: [],
    depthMass: [],
    peaks: { wx: new Float32Array(H * BYTES), wh: new Float32Array(H * H), wy: new Float32Array(BYTES * H) },
    frequency: taus.map(() => ({ wx: new Uint32Array(H * BYTES), wh: new Uint32Array(H * H), wy: new Uint32Array(BYTES * H) })),
    gatedNonzero: 0,
  };

  for (let t = 0; t + 1 < bytes.length; t++) {
    const y = bytes[t + 1];
    const P = outputDistribution(model, states[t]);
    result.targets.push(y);
    result.surprisal.push(-Math.log2(P[y]));

    // Attribution of every pattern at this position: max of its candidates, 0 if none.
    const attrX = new Float32Array(H * BYTES);
    const attrH = new Float32Array(H * H);
    const attrY = new Float32Array(BYTES * H);
    const mass: number[] = new Array(dmax + 1).fill(NaN);

    // Step 1: g[j] = float32(Wy[y][j] - Σ_o Wy[o][j]·P[o]), the sum in double.
    const g = new Float32Array(H);
    for (let j = 0; j < H; j++) {
      let sum = 0;
      for (let o = 0; o < BYTES; o++) sum += model.wy[o * H + j] * P[o];
      g[j] = f32(model.wy[y * H + j] - sum);
    }

    // Steps 2-3: Wy patterns (j, y) get |g[j]|; depth mass at d = 0.
    mass[0] = 0;
    for (let j = 0; j < H; j++) {
      attrY[y * H + j] = Math.abs(g[j]);
      mass[0] = f32(mass[0] + Math.abs(g[j]));
    }

    // Step 4: the backward chain.
    let b = Float32Array.from(g);
    for (let d = 1; d <= dmax && t - d >= 0; d++) {
      const hs = states[t - d + 1];
      const scaled = new Float32Array(H);
      for (let i = 0; i < H; i++) scaled[i] = f32(f32(1 - f32(hs[i] * hs[i])) * b[i]);

      for (let i = 0; i < H; i++) {
        if (Math.abs(scaled[i]) < SCALED_GATE) {
          if (scaled[i] !== 0) result.gatedNonzero++;
          continue;
        }
        for (let j = 0; j < H; j++) {
          const candidate = Math.abs(f32(scaled[i] * model.wh[i * H + j]));
          if (candidate > attrH[i * H + j]) attrH[i * H + j] = candidate;
        }
      }

      const next = new Float32Array(H);
      for (let j = 0; j < H; j++) {
        let sum = 0;
        for (let i = 0; i < H; i++) sum = f32(sum + f32(model.wh[i * H + j] * scaled[i]));
        next[j] = sum;
      }
      b = next;

      const c = bytes[t - d];
      const hBefore = states[t - d];
      mass[d] = 0;
      for (let j = 0; j < H; j++) {
        let factor: number;
        if (rule === 'q1') factor = b[j];
        else if (rule === 'gated-wx') factor = f32(f32(1 - f32(hBefore[j] * hBefore[j])) * b[j]);
        else throw new Error(`plain: unknown rule ${String(rule)}`);
        const candidate = Math.abs(f32(model.wx[j * BYTES + c] * factor));
        if (candidate > attrX[j * BYTES + c]) attrX[j * BYTES + c] = candidate;
        mass[d] = f32(mass[d] + candidate);
      }
    }
    result.depthMass.push(mass);

    // Step 6 and counts: active when attribution > τ (float32), strictly.
    const countAbove = (attributions: Float32Array, tau: number): number => {
      let n = 0;
      for (const a of attributions) if (a > tau) n++;
      return n;
    };
    result.counts.push(taus.map((tau) => [countAbove(attrX, tau), countAbove(attrH, tau), countAbove(attrY, tau)]));
    onPosition?.(t, { wx: attrX, wh: attrH, wy: attrY });
    const countActive = (frequency: Uint32Array, attributions: Float32Array, tau: number): void => {
      for (let k = 0; k < attributions.length; k++) if (attributions[k] > tau) frequency[k]++;
    };
    taus.forEach((tau, k) => {
      countActive(result.frequency[k].wx, attrX, tau);
      countActive(result.frequency[k].wh, attrH, tau);
      countActive(result.frequency[k].wy, attrY, tau);
    });

    const keepMax = (peaks: Float32Array, attributions: Float32Array): void => {
      for (let k = 0; k < peaks.length; k++) if (attributions[k] > peaks[k]) peaks[k] = attributions[k];
    };
    keepMax(result.peaks.wx, attrX);
    keepMax(result.peaks.wh, attrH);
    keepMax(result.peaks.wy, attrY);
  }
  return result;
}
