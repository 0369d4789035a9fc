import { RULES, SCALED_GATE, type PatternClass, type RuleName } from './computation.js';
import { BYTE_VALUES, type Model } from './model.js';
import { outputDistribution, outputGradient } from './forward.js';

const fround = Math.fround;

/**
 * One pattern's attribution at one position. Identities as in the spec and the
 * store's pattern_peaks: Wx (c, j) is src c → dst j, Wh (j → i) is src j → dst i,
 * Wy (j, y) is src j → dst y.
 */
export interface PatternAttribution {
  readonly cls: PatternClass;
  readonly src: number;
  readonly dst: number;
  /** The offset whose candidate is the maximum (the smallest such d on ties); 0 for Wy. */
  readonly d: number;
  /** The maximum of the pattern's candidates, a float32 value > 0. */
  readonly attribution: number;
}

export interface PositionExplanation {
  readonly t: number;
  /** The target y = x_{t+1}. */
  readonly y: number;
  /** -log2 P_t[y]. */
  readonly surprisal: number;
  /** The offsets traced: min(Dmax, t + burn-in). */
  readonly depth: number;
  /** Depth mass per offset d = 0 .. depth (spec, steps 3 and 4). */
  readonly depthMass: Float32Array;
  /**
   * Every pattern with a candidate attribution > 0, by attribution descending
   * (ties: class wx, wh, wy, then src, then dst). Patterns at 0 are never active.
   */
  readonly patterns: readonly PatternAttribution[];
}

/** What explaining one position needs: the model, the window's bytes, the forward states h_t (forwardStates), t, Dmax and the rule. */
export interface ExplainInput {
  readonly model: Model;
  /** The window's bytes, after its burn-in bytes when it has any. */
  readonly bytes: Uint8Array;
  /** h_t for every byte of `bytes` (from h = 0 before its first), row t at t·H. */
  readonly states: Float32Array;
  /** The position in the window (0 is the first byte after the burn-in). */
  readonly t: number;
  readonly dmax: number;
  readonly rule: RuleName;
  /** Bytes of `bytes` before the window (a warm window's burn-in; 0 when absent): the trace may reach back into them. */
  readonly burnIn?: number;
}

/**
 * The backward attribution of spec steps 1–5 for one position, pattern by
 * pattern, written as the spec reads (g, b, scaled, the gate on the receiving
 * neuron, every candidate, the maximum over offsets; the Wx candidate's factor is
 * the rule's wxFactor). A plain loop: it keeps
 * every pattern's attribution instead of the counting shortcuts of trace.ts,
 * so it is an independent second reading of the spec for one position.
 */
export function explainPosition(input: ExplainInput): PositionExplanation {
  const { model, bytes, states, dmax } = input;
  const burnIn = input.burnIn ?? 0;
  const { wxFactor } = RULES[input.rule];
  const H = model.hidden;
  if (!(Number.isInteger(input.t) && input.t >= 0 && input.t + burnIn + 1 < bytes.length)) {
    throw new RangeError(`position t = ${input.t} is outside 0 .. ${bytes.length - burnIn - 2}`);
  }
  // The position in the sequence `bytes` holds (burn-in first): every index below is one of it.
  const t = input.t + burnIn;
  const { wx, wh } = model;
  const y = bytes[t + 1];

  const probabilities = new Float64Array(BYTE_VALUES);
  outputDistribution(model, states.subarray(t * H, (t + 1) * H), probabilities);
  const surprisal = -Math.log2(probabilities[y]);

  // Step 1: g. Steps 2–3: Wy (j, y) gets |g[j]|, and the mass at d = 0.
  const g = new Float32Array(H);
  outputGradient(model, probabilities, y, g);
  const depth = Math.min(dmax, t);
  const depthMass = new Float32Array(depth + 1);
  let mass = 0;
  for (let j = 0; j < H; j++) mass = fround(mass + Math.abs(g[j]));
  depthMass[0] = mass;

  // Attributions (max of candidates) and the offset of the maximum, laid out as the weights.
  const attrX = new Float32Array(H * BYTE_VALUES); // Wx[j][c] at j·256 + c
  const peakX = new Int32Array(H * BYTE_VALUES);
  const attrH = new Float32Array(H * H); // Wh[i][j] at i·H + j
  const peakH = new Int32Array(H * H);

  // Step 4: the backward chain, b = g, then for d = 1 .. depth.
  let b = Float32Array.from(g);
  const scaled = new Float32Array(H);
  for (let d = 1; d <= depth; d++) {
    const s = t - d + 1;
    for (let i = 0; i < H; i++) {
      const h = states[s * H + i];
      scaled[i] = fround(fround(1 - fround(h * h)) * b[i]);
    }
    for (let i = 0; i < H; i++) {
      if (Math.abs(scaled[i]) < SCALED_GATE) continue; // the receiving neuron's gate
      for (let j = 0; j < H; j++) {
        const candidate = Math.abs(fround(scaled[i] * wh[i * H + j]));
        if (candidate > attrH[i * H + j]) {
          attrH[i * H + j] = candidate;
          peakH[i * H + j] = d;
        }
      }
    }
    const next = new Float32Array(H);
    for (let j = 0; j < H; j++) {
      let sum = 0;
      for (let i = 0; i < H; i++) sum = fround(sum + fround(wh[i * H + j] * scaled[i]));
      next[j] = sum;
    }
    b = next;
    const c = bytes[t - d];
    const before = t - d; // h_{t-d}, for a rule whose Wx factor reads it
    let massAtD = 0;
    for (let j = 0; j < H; j++) {
      const candidate = Math.abs(fround(wx[j * BYTE_VALUES + c] * wxFactor(b[j], states[before * H + j])));
      massAtD = fround(massAtD + candidate);
      if (candidate > attrX[j * BYTE_VALUES + c]) {
        attrX[j * BYTE_VALUES + c] = candidate;
        peakX[j * BYTE_VALUES + c] = d;
      }
    }
    depthMass[d] = massAtD;
  }

  const patterns: PatternAttribution[] = [];
  for (let j = 0; j < H; j++) {
    for (let c = 0; c < BYTE_VALUES; c++) {
      const a = attrX[j * BYTE_VALUES + c];
      if (a > 0) patterns.push({ cls: 'wx', src: c, dst: j, d: peakX[j * BYTE_VALUES + c], attribution: a });
    }
  }
  for (let i = 0; i < H; i++) {
    for (let j = 0; j < H; j++) {
      const a = attrH[i * H + j];
      if (a > 0) patterns.push({ cls: 'wh', src: j, dst: i, d: peakH[i * H + j], attribution: a });
    }
  }
  for (let j = 0; j < H; j++) {
    const a = Math.abs(g[j]);
    if (a > 0) patterns.push({ cls: 'wy', src: j, dst: y, d: 0, attribution: a });
  }
  const classOrder: Record<PatternClass, number> = { wx: 0, wh: 1, wy: 2 };
  patterns.sort((p, q) => q.attribution - p.attribution || classOrder[p.cls] - classOrder[q.cls] || p.src - q.src || p.dst - q.dst);
  return { t: input.t, y, surprisal, depth, depthMass, patterns };
}

/** The patterns active at τ (attribution > float32(τ), strictly): a prefix of `patterns`. */
export function activePatternsAt(explanation: PositionExplanation, tau: number): readonly PatternAttribution[] {
  const threshold = fround(tau);
  const patterns = explanation.patterns;
  let end = 0;
  while (end < patterns.length && patterns[end].attribution > threshold) end++;
  return patterns.slice(0, end);
}

/** n_x, n_h, n_y at τ. */
export function activeCountsAt(explanation: PositionExplanation, tau: number): { n_x: number; n_h: number; n_y: number } {
  const counts = { n_x: 0, n_h: 0, n_y: 0 };
  for (const pattern of activePatternsAt(explanation, tau)) {
    if (pattern.cls === 'wx') counts.n_x++;
    else if (pattern.cls === 'wh') counts.n_h++;
    else counts.n_y++;
  }
  return counts;
}
